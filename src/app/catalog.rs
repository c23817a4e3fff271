//! What the app is made of, read from the domain list without building anything: functions,
//! settings, Service Bus subscriptions, data parts and the OpenAPI document. The router, the
//! generated files (function.json, the Bicep's catalog, the README's settings table) and the
//! local host all take their lists from here.

use std::collections::BTreeSet;

use crate::{
    config::{self, InAzure, Setting},
    domain::{AnyDomain, DataPart},
    functions::{self, FunctionDef, Trigger},
    platform::bus::Subscription,
};

pub struct Catalog<'a> {
    domains: &'a [&'a dyn AnyDomain],
}

impl<'a> Catalog<'a> {
    pub fn new(domains: &'a [&'a dyn AnyDomain]) -> Self {
        Catalog { domains }
    }

    /// The catalog of `crate::DOMAINS`.
    pub fn app() -> Catalog<'static> {
        Catalog { domains: crate::DOMAINS }
    }

    pub fn domains(&self) -> &[&'a dyn AnyDomain] {
        self.domains
    }

    /// Every function, domain by domain.
    pub fn functions(&self) -> Vec<FunctionDef> {
        self.domains.iter().flat_map(|d| d.functions()).collect()
    }

    /// The platform's settings, then each domain's.
    pub fn settings(&self) -> Vec<Setting> {
        let mut all = config::settings::SETTINGS.to_vec();
        all.extend(self.domains.iter().flat_map(|d| d.settings().iter().copied()));
        all
    }

    /// Each setting that has a default, with it (what the local host fills in).
    pub fn defaults(&self) -> Vec<(&'static str, &'static str)> {
        self.settings().iter().filter_map(|s| s.default.map(|d| (s.name, d))).collect()
    }

    /// The settings a deployment in Azure has: everything but the local host's own.
    pub fn azure_settings(&self) -> Vec<Setting> {
        self.settings().into_iter().filter(|s| s.azure != InAzure::NotUsed).collect()
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        functions::subscriptions(&self.functions())
    }

    /// Every domain's data part, in domain order.
    pub fn data_parts(&self) -> Vec<DataPart> {
        self.domains.iter().filter_map(|d| d.data()).collect()
    }

    /// The OpenAPI document: the base, and each domain's fragment merged in.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        crate::http::openapi::compose(&self.openapi_fragments())
    }

    pub fn openapi_fragments(&self) -> Vec<fn() -> utoipa::openapi::OpenApi> {
        self.domains.iter().map(|d| d.openapi_fn()).collect()
    }

    /// What is inconsistent in the declarations: duplicate names, timers whose `%SETTING%` is not
    /// declared with a default, operation ids used twice. Empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for d in self.domains {
            if !seen.insert(d.name()) {
                problems.push(format!("domain {} is listed twice", d.name()));
            }
        }
        let mut names = BTreeSet::new();
        for f in self.functions() {
            if !names.insert(f.name.to_ascii_lowercase()) {
                problems.push(format!("function {} is declared twice", f.name));
            }
            if !f.name.chars().all(|c| c.is_ascii_alphanumeric()) {
                problems.push(format!("function {} is not a valid folder name", f.name));
            }
        }
        let settings = self.settings();
        let mut setting_names = BTreeSet::new();
        for s in &settings {
            if !setting_names.insert(s.name) {
                problems.push(format!("setting {} is declared twice", s.name));
            }
        }
        for f in self.functions() {
            match f.trigger {
                Trigger::Timer { schedule } => match f.schedule_setting() {
                    Some(name) => match settings.iter().find(|s| s.name == name) {
                        None => {
                            problems.push(format!("timer {} names {name}, which no domain declares", f.name))
                        }
                        Some(s) if s.default.is_none() => {
                            problems.push(format!("timer {} names {name}, which has no default", f.name))
                        }
                        Some(_) => {}
                    },
                    None if schedule.split_whitespace().count() != 6 => {
                        problems.push(format!("timer {}'s schedule is not 6-field NCRONTAB", f.name))
                    }
                    None => {}
                },
                Trigger::ServiceBus { subjects: [], .. } => {
                    problems.push(format!("consumer {} subscribes to nothing", f.name))
                }
                Trigger::Http { route, .. } if route.starts_with('/') => {
                    problems.push(format!("HTTP function {}'s route starts with /", f.name))
                }
                _ => {}
            }
        }
        // A schema name two domains define differently would leave one of them described by the
        // other's schema once the fragments are merged.
        let mut schemas: std::collections::BTreeMap<String, (&str, String)> = Default::default();
        for d in self.domains {
            let fragment = d.openapi();
            for (name, schema) in fragment.components.iter().flat_map(|c| c.schemas.iter()) {
                let json = serde_json::to_string(schema).unwrap_or_default();
                match schemas.get(name) {
                    Some((other, seen)) if *seen != json => problems
                        .push(format!("schema {name} is defined differently by {other} and {}", d.name())),
                    Some(_) => {}
                    None => {
                        schemas.insert(name.clone(), (d.name(), json));
                    }
                }
            }
        }
        let doc = self.openapi();
        let mut ids = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let ops =
                [&item.get, &item.put, &item.post, &item.delete, &item.options, &item.head, &item.patch];
            for op in ops.into_iter().flatten() {
                match &op.operation_id {
                    Some(id) if !ids.insert(id.clone()) => {
                        problems.push(format!("operationId {id} is used twice (again at {path})"))
                    }
                    None => problems.push(format!("an operation at {path} has no operationId")),
                    Some(id) if !camel_case(id) => {
                        problems.push(format!("operationId {id} at {path} is not camelCase"))
                    }
                    Some(_) => {}
                }
            }
            // Path parameters are named like every JSON field: `{jobId}`, never `{job_id}`.
            for segment in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                if !camel_case(segment) {
                    problems.push(format!("path parameter {{{segment}}} of {path} is not camelCase"));
                }
            }
        }
        // Every link leads to an operation of the document and names only its parameters.
        let mut parameters: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        let mut links = Vec::new();
        for item in doc.paths.paths.values() {
            let ops =
                [&item.get, &item.put, &item.post, &item.delete, &item.options, &item.head, &item.patch];
            for op in ops.into_iter().flatten() {
                let id = op.operation_id.as_deref().unwrap_or_default();
                parameters.insert(id, op.parameters.iter().flatten().map(|p| p.name.as_str()).collect());
                for response in op.responses.responses.values() {
                    if let utoipa::openapi::RefOr::T(response) = response {
                        links.extend(response.links.iter().map(|(name, link)| (id, name, link)));
                    }
                }
            }
        }
        for (from, name, link) in links {
            let utoipa::openapi::RefOr::T(link) = link else { continue };
            match parameters.get(link.operation_id.as_str()) {
                None => problems
                    .push(format!("link {name} of {from} leads to no operation ({})", link.operation_id)),
                Some(known) => {
                    for p in link.parameters.keys().filter(|p| !known.contains(&p.as_str())) {
                        problems.push(format!(
                            "link {name} of {from} sets {p}, which {} does not take",
                            link.operation_id
                        ));
                    }
                }
            }
        }
        for name in doc.components.iter().flat_map(|c| c.schemas.keys()) {
            if !name.starts_with(|c: char| c.is_ascii_uppercase())
                || !name.chars().all(|c| c.is_ascii_alphanumeric())
            {
                problems.push(format!("schema name {name} is not PascalCase"));
            }
        }
        problems
    }
}

/// `jobId`, `getChatHistory`: a lower-case ASCII letter, then ASCII letters and digits.
fn camel_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}
