//! An HTTP request delivered through the invocation protocol (a function that is not forwarded).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::{InvocationRequest, as_string, unwrap_encoded};

#[derive(Debug, Clone, PartialEq)]
pub struct HttpTriggerData {
    pub method: String,
    pub url: String,
    pub query: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpTriggerData {
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Option<Self> {
        Self::from_value(req.data.get(binding)?.clone())
    }

    /// The request out of its invocation, without copying the body more than once (base64 is
    /// decoded into the body's own buffer; a text body is moved, not copied).
    pub fn take(req: &mut InvocationRequest, binding: &str) -> Option<Self> {
        Self::from_value(req.data.remove(binding)?)
    }

    fn from_value(v: Value) -> Option<Self> {
        let Value::Object(mut obj) = unwrap_encoded(v) else { return None };
        let raw_body = obj.remove("Body");
        let method =
            obj.get("Method").and_then(as_string).unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
        let url = obj.get("Url").and_then(as_string).unwrap_or_else(|| "/".into());
        let mut headers = Vec::new();
        if let Some(Value::Object(h)) = obj.get("Headers").cloned().map(unwrap_encoded) {
            for (name, values) in h {
                match unwrap_encoded(values) {
                    Value::Array(items) => {
                        headers.extend(items.iter().filter_map(as_string).map(|s| (name.clone(), s)))
                    }
                    other => headers.extend(as_string(&other).map(|s| (name.clone(), s))),
                }
            }
        }
        let query = match obj.get("Query").cloned().map(unwrap_encoded) {
            Some(Value::Object(q)) => {
                q.into_iter().filter_map(|(k, v)| as_string(&v).map(|s| (k, s))).collect()
            }
            Some(Value::String(s)) => url::form_urlencoded::parse(s.trim_start_matches('?').as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            _ => BTreeMap::new(),
        };
        let content_type = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let body = match raw_body {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if is_binary(&content_type) => {
                base64::engine::general_purpose::STANDARD.decode(s.trim()).unwrap_or_else(|_| s.into_bytes())
            }
            Some(Value::String(s)) => s.into_bytes(),
            // Older hosts hand a JSON body over already parsed.
            Some(other) => serde_json::to_vec(&other).unwrap_or_default(),
        };
        Some(HttpTriggerData { method, url, query, headers, body })
    }

    /// Path and query of the original request, for routing.
    pub fn path_and_query(&self) -> String {
        let (path, url_query) = match url::Url::parse(&self.url) {
            Ok(u) => (u.path().to_string(), u.query().map(str::to_string)),
            Err(_) => {
                let (p, q) =
                    self.url.split_once('?').map_or((self.url.as_str(), None), |(p, q)| (p, Some(q)));
                (p.to_string(), q.map(str::to_string))
            }
        };
        let query = url_query.filter(|q| !q.is_empty()).or_else(|| {
            (!self.query.is_empty()).then(|| {
                url::form_urlencoded::Serializer::new(String::new()).extend_pairs(self.query.iter()).finish()
            })
        });
        match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        }
    }
}

fn is_binary(content_type: &str) -> bool {
    content_type.starts_with("application/octet-stream") || content_type.starts_with("multipart/")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{super::req, *};

    #[test]
    fn http_data_accepts_query_as_object_or_string_header_arrays_and_base64_bodies() {
        let r = req(json!({"Data": {"req": {
            "Url": "http://localhost:7071/api/system/live", "Method": "post",
            "Query": {"a": "1"}, "Headers": {"Content-Type": ["application/octet-stream"], "X-Many": ["1", "2"]},
            "Body": "AAEC"
        }}}));
        let h = HttpTriggerData::from_invocation(&r, "req").unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.body, vec![0, 1, 2]);
        assert_eq!(h.headers.iter().filter(|(k, _)| k == "X-Many").count(), 2);
        assert_eq!(h.path_and_query(), "/api/system/live?a=1");
        let r = req(
            json!({"Data": {"req": {"Url": "/api/x", "Method": "GET", "Query": "?b=2&c=3", "Headers": {}, "Body": "{\"k\":1}"}}}),
        );
        let h = HttpTriggerData::from_invocation(&r, "req").unwrap();
        assert_eq!(h.path_and_query(), "/api/x?b=2&c=3");
        assert_eq!(h.body, b"{\"k\":1}");
    }
}
