//! The layers of `src/`: `main` → `app` (which also runs `host`) → the domains (each may use the ones listed before it) →
//! `domain`, `functions`, `http` → `platform` → `config`; `host` uses only `functions`, `http`,
//! `platform` and `config`. A `crate::x` reference that goes up or sideways fails here, and so
//! does a domain naming another domain's module other than its `api` (`crate::users::api::…` is
//! the users domain's whole surface for the others).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// The top-level modules each layer may name.
fn allowed(module: &str, domains: &[String]) -> Option<BTreeSet<String>> {
    let list: &[&str] = match module {
        "config" => &[],
        "platform" => &["config"],
        "http" => &["platform", "config"],
        "functions" => &["http", "platform", "config"],
        "domain" => &["functions", "http", "platform", "config"],
        "host" => &["functions", "http", "platform", "config"],
        "app" => &["domain", "functions", "host", "http", "platform", "config"],
        m => {
            let position = domains.iter().position(|d| d == m)?;
            let mut set: BTreeSet<String> =
                ["domain", "functions", "http", "platform", "config"].iter().map(|s| s.to_string()).collect();
            set.extend(domains[..position].iter().cloned());
            return Some(set);
        }
    };
    let mut set: BTreeSet<String> = list.iter().map(|s| s.to_string()).collect();
    if module == "app" {
        set.extend(domains.iter().cloned());
    }
    Some(set)
}

/// The top-level modules a source file names through `crate::`.
fn references(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let code: String =
        code.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: the first name of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
            found.extend(first_ident(&item));
        } else {
            found.extend(first_ident(rest));
        }
    }
    found
}

fn first_ident(s: &str) -> Option<String> {
    let ident: String =
        s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!ident.is_empty()).then_some(ident)
}

/// Every layer violation and every circle among `files` (path relative to src, source).
fn violations(files: &[(String, String)], domains: &[String]) -> Vec<String> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (path, source) in files {
        let top = path.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(allowed) = allowed(&top, domains) else {
            bad.push(format!("{path}: top-level module `{top}` is neither a layer nor a listed domain"));
            continue;
        };
        for name in references(source) {
            if name == top || name == "DOMAINS" && top == "app" {
                continue;
            }
            edges.entry(top.clone()).or_default().insert(name.clone());
            if !allowed.contains(&name) {
                bad.push(format!("{path}: `{top}` names `{name}`"));
            }
        }
    }
    // Circles: any module that reaches itself.
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = edges[start].iter().collect();
        while let Some(n) = stack.pop() {
            if n == start {
                bad.push(format!("`{start}` is part of a circle"));
                break;
            }
            if seen.insert(n.clone()) {
                stack.extend(edges.get(n).into_iter().flatten());
            }
        }
    }
    bad
}

/// Every `crate::` path of a source file, written out: `crate::{a::{b, c}, d}` gives `a::b`,
/// `a::c` and `d`; `self` inside a group names the group's own path.
fn paths(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or(source);
    let code: String =
        code.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        expand("", rest, &mut out);
    }
    out
}

/// Expands the path that starts `text` (after `prefix`) into `out`.
fn expand(prefix: &str, text: &str, out: &mut Vec<String>) {
    let mut path = prefix.to_string();
    let mut chars = text.char_indices().peekable();
    let mut segment = String::new();
    while let Some((i, ch)) = chars.next() {
        match ch {
            c if c.is_ascii_alphanumeric() || c == '_' => segment.push(c),
            ':' if chars.peek().map(|(_, c)| *c) == Some(':') => {
                chars.next();
                join(&mut path, &segment);
                segment.clear();
            }
            '{' => {
                // A group: each comma-separated item at depth 0, expanded under `path`.
                let group = &text[i + 1..];
                let mut depth = 0;
                let mut start = 0;
                for (j, g) in group.char_indices() {
                    match g {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            item(&path, &group[start..j], out);
                            return;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            item(&path, &group[start..j], out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            _ => break,
        }
    }
    join(&mut path, &segment);
    if !path.is_empty() {
        out.push(path);
    }
}

fn item(prefix: &str, text: &str, out: &mut Vec<String>) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    // `B as C` names `B`; a group's own `as` belongs to its items.
    let name = if text.contains('{') { text } else { text.split(" as ").next().unwrap_or(text).trim() };
    if name == "self" {
        out.push(prefix.to_string());
    } else {
        expand(prefix, name, out);
    }
}

fn join(path: &mut String, segment: &str) {
    if segment.is_empty() {
        return;
    }
    if !path.is_empty() {
        path.push_str("::");
    }
    path.push_str(segment);
}

/// Every path from one domain into another that does not go through the other's `api` module.
fn past_the_api(files: &[(String, String)], domains: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    for (path, source) in files {
        let top = path.split('/').next().unwrap().trim_end_matches(".rs");
        if !domains.iter().any(|d| d == top) {
            continue;
        }
        for p in paths(source) {
            let mut segments = p.split("::");
            let Some(first) = segments.next() else { continue };
            if first == top || !domains.iter().any(|d| d == first) {
                continue;
            }
            if segments.next() != Some("api") {
                bad.push(format!("{path}: `crate::{p}` is not in `{first}::api`"));
            }
        }
    }
    bad
}

fn sources(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if path.is_dir() {
            sources(&path, &format!("{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The domains in the order of the crate root's `domains!(...)` line.
fn listed_domains(lib: &str) -> Vec<String> {
    let line = lib.lines().find(|l| l.starts_with("domains!(")).expect("src/lib.rs lists the domains");
    let inner = line.trim_start_matches("domains!(").trim_end_matches(");");
    inner.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect()
}

#[test]
fn no_module_names_a_layer_above_it_and_there_is_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, "", &mut files);
    let domains = listed_domains(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(domains.starts_with(&["system".to_string(), "users".to_string()]), "{domains:?}");
    let bad = violations(&files, &domains);
    assert!(bad.is_empty(), "layer violations:\n{}", bad.join("\n"));
}

#[test]
fn a_domain_names_another_domain_only_through_its_api() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, "", &mut files);
    let domains = listed_domains(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let bad = past_the_api(&files, &domains);
    assert!(bad.is_empty(), "imports past another domain's api:\n{}", bad.join("\n"));
}

#[test]
fn the_api_check_expands_groups_and_catches_every_way_past_the_api() {
    let domains = vec!["users".to_string(), "health".to_string(), "goals".to_string()];
    let file = |p: &str, s: &str| (p.to_string(), s.to_string());
    assert_eq!(
        paths("use crate::{users::{self, api::{A, B as C}}, health::api};"),
        ["users", "users::api::A", "users::api::B", "health::api"]
    );
    let files = vec![
        file("health/mod.rs", "use crate::users::api::{AuthUser, has_consent};"),
        file("goals/a.rs", "use crate::health::api::{self, latest};\nuse crate::goals::store;"),
        file("goals/b.rs", "use crate::{users::{self, ActiveUser}, health::judge::Grade};"),
        file("goals/c.rs", "fn f() { crate::users::store::get(); }"),
        file("platform/x.rs", "use crate::users::store;"),
        file(
            "goals/d.rs",
            "use crate::{\n    health::{\n        api::{self as h, Grade},\n        judge::item_for,\n    },\n    http::Routes,\n};",
        ),
    ];
    let bad = past_the_api(&files, &domains);
    let has = |s: &str| bad.iter().any(|b| b.contains(s));
    assert!(has("goals/b.rs: `crate::users` is not"), "a bare domain import: {bad:?}");
    assert!(has("goals/b.rs: `crate::users::ActiveUser` is not"), "{bad:?}");
    assert!(has("goals/b.rs: `crate::health::judge::Grade` is not"), "{bad:?}");
    assert!(has("goals/c.rs: `crate::users::store::get` is not"), "{bad:?}");
    assert!(has("goals/d.rs: `crate::health::judge::item_for` is not"), "{bad:?}");
    assert_eq!(bad.len(), 5, "the api, the domain's own modules and non-domains are fine: {bad:?}");
}

#[test]
fn the_check_catches_upward_and_sideways_references_and_circles() {
    let domains = vec!["users".to_string(), "health".to_string()];
    let file = |p: &str, s: &str| (p.to_string(), s.to_string());
    let files = vec![
        file("platform/bus.rs", "use crate::{config, http::ApiError};"),
        file("host/local.rs", "fn f() { crate::app::functions(); }"),
        file("users/mod.rs", "use crate::health::api; // a later domain"),
        file("health/mod.rs", "use crate::{users::{AuthUser, has_consent}, domain};"),
        file("config/mod.rs", "#[cfg(test)]\nuse crate::app;"),
        file("extra.rs", "use crate::config;"),
    ];
    let bad = violations(&files, &domains);
    let has = |s: &str| bad.iter().any(|b| b.contains(s));
    assert!(has("`platform` names `http`"), "{bad:?}");
    assert!(has("`host` names `app`"), "{bad:?}");
    assert!(has("`users` names `health`"), "{bad:?}");
    assert!(has("`users` is part of a circle"), "{bad:?}");
    assert!(has("`extra` is neither"), "{bad:?}");
    assert!(!has("`health` names"), "an earlier domain is allowed: {bad:?}");
    assert!(!has("`config` names"), "test modules are ignored: {bad:?}");
}
