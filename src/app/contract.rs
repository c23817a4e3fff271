//! The contract drift guard: what a new OpenAPI document breaks for clients built against an
//! older one. Breaking is what makes a working client fail: a path or method that is gone, a
//! response field that is gone, an enum value that is gone, a request field or parameter that
//! became required. Each change has one line of text (`removed field: GET /api/x 200 data.y`);
//! a change is accepted once that line is recorded in `docs/api-changes.md`.
//!
//! Paths are compared with their parameters' names left out (`/api/x/{}`): renaming `{id}` to
//! `{checkupId}` changes no URL a client calls.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Where breaking changes are recorded.
pub const API_CHANGES: &str = "docs/api-changes.md";

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// `/api/x/{id}/y` → `/api/x/{}/y`.
fn shape(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// Every operation: (shape of path, METHOD) → (path as written, operation).
fn operations(doc: &Value) -> BTreeMap<(String, String), (String, &Value)> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.insert((shape(path), method.to_uppercase()), (path.clone(), op));
            }
        }
    }
    out
}

/// What a schema says, with `$ref`s into `components/schemas` followed.
struct Walker<'a> {
    doc: &'a Value,
}

/// What was found at one field path.
#[derive(Default)]
struct Field {
    /// Enum values (strings, numbers) the field may take, when it is an enum.
    values: Option<BTreeSet<String>>,
    required: bool,
}

impl Walker<'_> {
    fn resolve<'v>(&'v self, schema: &'v Value) -> &'v Value {
        let mut s = schema;
        for _ in 0..16 {
            match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                Some(name) => s = &self.doc["components"]["schemas"][name],
                None => break,
            }
        }
        s
    }

    /// Every field path under `schema` (`data.items[].code`), with its enum values and whether it
    /// is required all the way from the root. `depth` stops recursive schemas.
    fn fields(
        &self,
        schema: &Value,
        at: &str,
        required: bool,
        depth: usize,
        out: &mut BTreeMap<String, Field>,
    ) {
        if depth > 12 {
            return;
        }
        let s = self.resolve(schema);
        for key in ["allOf", "oneOf", "anyOf"] {
            for branch in s[key].as_array().into_iter().flatten() {
                // A branch of oneOf/anyOf may not apply: what it requires is not required.
                self.fields(branch, at, required && key == "allOf", depth + 1, out);
            }
        }
        if let Some(values) = s["enum"].as_array() {
            let entry = out.entry(at.to_string()).or_default();
            let set = entry.values.get_or_insert_with(BTreeSet::new);
            set.extend(values.iter().filter(|v| !v.is_null()).map(|v| v.to_string()));
        }
        if let Some(v) = s.get("const").filter(|v| !v.is_null()) {
            out.entry(at.to_string())
                .or_default()
                .values
                .get_or_insert_with(BTreeSet::new)
                .insert(v.to_string());
        }
        if let Some(items) = s.get("items") {
            self.fields(items, &format!("{at}[]"), false, depth + 1, out);
        }
        let needed: BTreeSet<&str> =
            s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (name, property) in s["properties"].as_object().into_iter().flatten() {
            let path = if at.is_empty() { name.clone() } else { format!("{at}.{name}") };
            let req = required && needed.contains(name.as_str());
            let entry = out.entry(path.clone()).or_default();
            entry.required |= req;
            self.fields(property, &path, req, depth + 1, out);
        }
    }

    fn of(&self, schema: &Value) -> BTreeMap<String, Field> {
        let mut out = BTreeMap::new();
        self.fields(schema, "", true, 0, &mut out);
        out
    }
}

/// The JSON body schema of a request or response, if it has one.
fn json_schema(body: &Value) -> Option<&Value> {
    body["content"].as_object()?.iter().find(|(t, _)| t.contains("json")).map(|(_, c)| &c["schema"])
}

/// The breaking changes from `old` to `new`, each as its line of text, in a stable order.
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<String> {
    let (wo, wn) = (Walker { doc: old }, Walker { doc: new });
    let (ops_old, ops_new) = (operations(old), operations(new));
    let mut changes = Vec::new();
    for ((shape, method), (path, op)) in &ops_old {
        let Some((_, now)) = ops_new.get(&(shape.clone(), method.clone())) else {
            changes.push(format!("removed operation: {method} {path}"));
            continue;
        };
        let name = format!("{method} {path}");
        // Responses: every field a 2xx answer had, it still has; every enum value it could
        // carry is still described (a client switching on it must not meet a value it lost).
        for (status, response) in op["responses"].as_object().into_iter().flatten() {
            if !status.starts_with('2') {
                continue;
            }
            let Some(schema) = json_schema(response) else { continue };
            let before = wo.of(schema);
            let after =
                now["responses"].get(status).and_then(json_schema).map(|s| wn.of(s)).unwrap_or_default();
            if now["responses"].get(status).is_none() {
                changes.push(format!("removed response: {name} {status}"));
                continue;
            }
            for (field, f) in &before {
                match after.get(field) {
                    None if !field.is_empty() => {
                        changes.push(format!("removed field: {name} {status} {field}"))
                    }
                    None => {}
                    Some(g) => removed_values(&mut changes, &format!("{name} {status} {field}"), f, g),
                }
            }
        }
        // Requests: every value a client could send is still accepted, and nothing it could
        // leave out became required.
        let request_before =
            op.get("requestBody").and_then(json_schema).map(|s| wo.of(s)).unwrap_or_default();
        let request_after =
            now.get("requestBody").and_then(json_schema).map(|s| wn.of(s)).unwrap_or_default();
        let body_required = |o: &Value| o["requestBody"]["required"].as_bool().unwrap_or(false);
        if now.get("requestBody").is_some() && body_required(now) && !body_required(op) {
            changes.push(format!("new required request field: {name} body"));
        }
        for (field, g) in &request_after {
            let was = request_before.get(field);
            if g.required && !field.is_empty() && !was.is_some_and(|f| f.required) {
                changes.push(format!("new required request field: {name} body.{field}"));
            }
            if let Some(f) = was {
                removed_values(&mut changes, &format!("{name} body.{field}"), f, g);
            }
        }
        let (p_old, p_new) = (parameters(&wo, op), parameters(&wn, now));
        for ((place, pname), (required, schema)) in &p_new {
            let was = p_old.get(&(place.clone(), pname.clone()));
            if *required && !was.is_some_and(|w| w.0) {
                changes.push(format!("new required request field: {name} {place}.{pname}"));
            }
            if let Some((_, before)) = was
                && let (Some(f), Some(g)) = (before.get(""), schema.get(""))
            {
                removed_values(&mut changes, &format!("{name} {place}.{pname}"), f, g);
            }
        }
    }
    changes.sort();
    changes.dedup();
    changes
}

/// The query and header parameters of an operation: (in, name) → (required, what its schema says).
fn parameters(w: &Walker, op: &Value) -> BTreeMap<(String, String), (bool, BTreeMap<String, Field>)> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] != "path")
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            ((text("in"), text("name")), (p["required"].as_bool().unwrap_or(false), w.of(&p["schema"])))
        })
        .collect()
}

fn removed_values(changes: &mut Vec<String>, at: &str, before: &Field, after: &Field) {
    if let (Some(old), Some(new)) = (&before.values, &after.values) {
        for v in old.difference(new) {
            changes.push(format!("removed enum value: {at} {v}"));
        }
    }
}

/// The changes not recorded in `api_changes` (the text of docs/api-changes.md): a change is
/// recorded when its line appears there between backticks.
pub fn unrecorded(changes: &[String], api_changes: &str) -> Vec<String> {
    changes.iter().filter(|c| !api_changes.contains(&format!("`{c}`"))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(path: &str, response: Value, request: Value, params: Value) -> Value {
        json!({
            "paths": { path: { "post": {
                "parameters": params,
                "requestBody": {"content": {"application/json": {"schema": request}}},
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["data"], "properties": {"data": {"$ref": "#/components/schemas/Thing"}}
                }}}}}
            }}},
            "components": {"schemas": {"Thing": response}}
        })
    }

    fn thing(fields: &[&str], kinds: &[&str]) -> Value {
        let mut props = serde_json::Map::new();
        for f in fields {
            props.insert(f.to_string(), json!({"type": "string"}));
        }
        props.insert("kind".into(), json!({"type": "string", "enum": kinds}));
        props.insert(
            "items".into(),
            json!({"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}}}}),
        );
        json!({"type": "object", "properties": props})
    }

    fn request(required: &[&str], modes: &[&str]) -> Value {
        json!({"type": "object", "required": required, "properties": {
            "message": {"type": "string"}, "mode": {"type": "string", "enum": modes}, "extra": {"type": "string"}
        }})
    }

    #[test]
    fn nothing_changed_nothing_breaks_and_additions_do_not_break() {
        let a = doc("/api/x/{id}", thing(&["a"], &["A"]), request(&["message"], &["M"]), json!([]));
        assert!(breaking_changes(&a, &a).is_empty());
        // More fields, more enum values accepted, a renamed path parameter, an optional parameter.
        let b = doc(
            "/api/x/{thingId}",
            thing(&["a", "b"], &["A", "B"]),
            request(&["message"], &["M", "N"]),
            json!([{"in": "query", "name": "q", "required": false, "schema": {"type": "string"}}]),
        );
        assert_eq!(breaking_changes(&a, &b), Vec::<String>::new());
    }

    #[test]
    fn removals_and_new_requirements_break() {
        let a = doc(
            "/api/x/{id}",
            thing(&["a", "b"], &["A", "B"]),
            request(&["message"], &["M", "N"]),
            json!([]),
        );
        let b = doc(
            "/api/x/{id}",
            thing(&["a"], &["A"]),
            request(&["message", "extra"], &["M"]),
            json!([{"in": "query", "name": "q", "required": true, "schema": {"type": "string"}}]),
        );
        assert_eq!(
            breaking_changes(&a, &b),
            [
                "new required request field: POST /api/x/{id} body.extra",
                "new required request field: POST /api/x/{id} query.q",
                "removed enum value: POST /api/x/{id} 200 data.kind \"B\"",
                "removed enum value: POST /api/x/{id} body.mode \"N\"",
                "removed field: POST /api/x/{id} 200 data.b",
            ]
        );
        let mut gone = a.clone();
        gone["components"]["schemas"]["Thing"]["properties"]["items"]["items"]["properties"] = json!({});
        assert_eq!(breaking_changes(&a, &gone), ["removed field: POST /api/x/{id} 200 data.items[].code"]);
        let moved = doc(
            "/api/y/{id}",
            thing(&["a", "b"], &["A", "B"]),
            request(&["message"], &["M", "N"]),
            json!([]),
        );
        assert_eq!(breaking_changes(&a, &moved), ["removed operation: POST /api/x/{id}"]);
    }

    #[test]
    fn a_change_is_accepted_once_its_line_is_recorded() {
        let changes = vec![
            "removed field: GET /api/a 200 data.b".to_string(),
            "removed operation: GET /api/c".to_string(),
        ];
        let md = "## 2026-12-08\n- `removed field: GET /api/a 200 data.b`: nobody read it.\n";
        assert_eq!(unrecorded(&changes, md), ["removed operation: GET /api/c"]);
    }
}
