//! The base of the OpenAPI 3.1 document: title, the error shape, the bearer scheme. Each domain
//! adds its paths with its own fragment, merged by the composition root.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::http;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "HealthSync API",
        description = "HealthSync 모바일 앱의 백엔드 API. 성공 응답은 {status, message, data, timestamp, traceId, success} 봉투로, 오류는 {code, message, traceId, errors} 형태로 답합니다."
    ),
    components(schemas(http::error::ErrorBody, http::error::FieldError)),
    modifiers(&BearerAuth),
)]
struct Base;

/// The document before any domain's paths.
pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// Declares the `bearer` scheme the protected operations name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The base with every fragment merged in, in order, and the errors every operation can answer
/// added where a fragment did not document them.
pub fn compose(fragments: &[fn() -> utoipa::openapi::OpenApi]) -> utoipa::openapi::OpenApi {
    let mut doc = base();
    for fragment in fragments {
        doc.merge(fragment());
    }
    add_common_errors(&mut doc);
    doc
}

/// The document as served: JSON, with the text rules' patterns (`@text`, `@email` …) expanded to
/// the expressions the server applies.
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(doc).unwrap_or_default();
    super::text::expand_patterns(&mut json);
    link_field_names(&mut json);
    json
}

/// utoipa 5.5 writes a Link object's fields as Rust names (`operation_id`, `request_body`,
/// `operation_ref`); the OpenAPI 3.1 Link Object names them `operationId`, `requestBody`,
/// `operationRef` (https://spec.openapis.org/oas/v3.1.0#link-object).
fn link_field_names(doc: &mut serde_json::Value) {
    let responses =
        doc["paths"].as_object_mut().into_iter().flat_map(|paths| paths.values_mut()).flat_map(|item| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|ops| ops.values_mut())
                .filter_map(|op| op.get_mut("responses"))
        });
    for responses in responses {
        let links = responses
            .as_object_mut()
            .into_iter()
            .flat_map(|r| r.values_mut())
            .filter_map(|r| r.get_mut("links").and_then(|l| l.as_object_mut()));
        for links in links {
            for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                for (from, to) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(v) = link.remove(from) {
                        link.insert(to.to_string(), v);
                    }
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{Ref, ResponseBuilder, content::ContentBuilder};
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    utoipa::openapi::RefOr::T(
        ResponseBuilder::new().description(description).content("application/json", content).build(),
    )
}

/// What the shared machinery can answer for any operation, in the error shape: 500 and 503
/// always (a bug, a dependency down, a timeout); 401 where a token is required; 400, 413, 415 and
/// 422 where there is a body (malformed JSON, too large, not JSON, wrong shape); 400 and 404
/// where the path has a parameter (malformed, no such thing); 400 where there is a query.
fn add_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
        for op in ops.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let body = op.request_body.is_some();
            let in_path = path.contains('{');
            let query = op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
            let mut wanted = vec![
                ("500", "요청을 처리하지 못했습니다 (INTERNAL_ERROR)"),
                (
                    "503",
                    "의존 서비스를 쓸 수 없거나 처리 시간이 초과되었습니다 (SERVICE_UNAVAILABLE, TIMEOUT)",
                ),
            ];
            if secured {
                wanted.push(("401", "로그인이 필요하거나 토큰이 올바르지 않습니다"));
            }
            if body {
                wanted.extend([
                    ("400", "본문이 올바른 JSON이 아닙니다 (MALFORMED_JSON)"),
                    ("413", "본문이 너무 큽니다 (PAYLOAD_TOO_LARGE)"),
                    ("415", "Content-Type 이 application/json 이 아닙니다"),
                    ("422", "입력값이 올바르지 않습니다; errors 에 항목별 사유"),
                ]);
            }
            if in_path {
                wanted.extend([
                    ("400", "주소의 식별자 형식이 올바르지 않습니다 (BAD_PATH)"),
                    ("404", "없습니다"),
                ]);
            }
            if query {
                wanted.push(("400", "쿼리 매개변수 형식이 올바르지 않습니다 (BAD_QUERY)"));
            }
            for (status, description) in wanted {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| error_response(description));
            }
            if secured {
                document_onboarding(op);
            }
        }
    }
}

/// An OpenAPI `link` from an operation's response to the operation a client calls next with a
/// value the response carries (a generated client's and schemathesis' stateful phase's way from
/// "created" to "read, change, delete").
pub struct Link {
    /// The operation whose response carries the value (its operationId).
    pub from: &'static str,
    /// The response status the link hangs on.
    pub status: &'static str,
    /// The link's name (the operation it leads to, as a noun phrase).
    pub name: &'static str,
    /// The operation it leads to.
    pub to: &'static str,
    /// Each parameter of `to` and where the value comes from (`$response.body#/data/id`).
    pub parameters: &'static [(&'static str, &'static str)],
    pub description: &'static str,
}

/// Adds `links` to a fragment's responses. A link whose operation or response the fragment does
/// not have is left out; the catalog reports links that lead nowhere (`Catalog::problems`), and
/// the document's test names every link the app relies on.
pub fn add_links(doc: &mut utoipa::openapi::OpenApi, links: &[Link]) {
    use utoipa::openapi::{RefOr, link::LinkBuilder};
    for item in doc.paths.paths.values_mut() {
        let ops =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
        for op in ops.into_iter().flatten() {
            for link in links.iter().filter(|l| op.operation_id.as_deref() == Some(l.from)) {
                if let Some(RefOr::T(response)) = op.responses.responses.get_mut(link.status) {
                    let mut built = LinkBuilder::new().operation_id(link.to).description(link.description);
                    for (name, value) in link.parameters {
                        built = built.parameter(*name, *value);
                    }
                    response.links.insert(link.name.to_string(), RefOr::T(built.build()));
                }
            }
        }
    }
}

/// A secured operation may find its caller's account still PENDING (signed in, not registered):
/// the `ActiveUser` extractor answers 403 `ONBOARDING_REQUIRED` before the handler runs, so the
/// operation's 403 says so, beside whatever else it documents (a consent).
fn document_onboarding(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::RefOr;
    const ONBOARDING: &str = "`ONBOARDING_REQUIRED`: 가입 절차를 마치지 않은 계정";
    match op.responses.responses.get_mut("403") {
        None => {
            op.responses.responses.insert("403".to_string(), error_response(ONBOARDING));
        }
        Some(RefOr::T(response)) if !response.description.contains("ONBOARDING_REQUIRED") => {
            response.description = format!("{}; {ONBOARDING}", response.description);
        }
        Some(_) => {}
    }
}

/// The app's document, built from its fragments on first use (never at start-up: cold start does
/// not pay for it) and then kept, with its JSON and its docs page.
pub struct ApiDoc {
    fragments: Vec<fn() -> utoipa::openapi::OpenApi>,
    built: OnceLock<Built>,
}

struct Built {
    doc: utoipa::openapi::OpenApi,
    json: bytes::Bytes,
    page: String,
}

impl ApiDoc {
    pub fn new(fragments: Vec<fn() -> utoipa::openapi::OpenApi>) -> Self {
        ApiDoc { fragments, built: OnceLock::new() }
    }

    fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            let doc = compose(&self.fragments);
            let json: bytes::Bytes = serde_json::to_vec(&to_json(&doc)).unwrap_or_default().into();
            let page = docs_page(&json);
            Built { doc, json, page }
        })
    }

    pub fn document(&self) -> &utoipa::openapi::OpenApi {
        &self.built().doc
    }

    /// The document as JSON.
    pub fn json(&self) -> bytes::Bytes {
        self.built().json.clone()
    }

    /// The browsable page over it.
    pub fn page(&self) -> &str {
        &self.built().page
    }
}

/// The docs page's script: Scalar's API reference at an exact version, with its Subresource
/// Integrity hash, so the browser runs exactly this file or nothing (a CDN that served another one
/// would be refused). To move to another version: `npm pack @scalar/api-reference@<v>` and
/// `openssl dgst -sha384 -binary package/dist/browser/standalone.js | base64`.
pub const DOCS_SCRIPT: &str =
    "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.76.0/dist/browser/standalone.js";
pub const DOCS_SCRIPT_INTEGRITY: &str =
    "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ";

/// A browsable page over the document (the document inline; `</` escaped so it cannot end the
/// script element it sits in).
fn docs_page(json: &[u8]) -> String {
    let spec = String::from_utf8_lossy(json).replace("</", "<\\/");
    format!(
        "<!doctype html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>HealthSync API</title>\n</head>\n<body>\n\
         <script id=\"api-reference\" type=\"application/json\">{spec}</script>\n\
         <script src=\"{DOCS_SCRIPT}\" integrity=\"{DOCS_SCRIPT_INTEGRITY}\" crossorigin=\"anonymous\"></script>\n\
         </body>\n</html>\n"
    )
}

/// A boolean that may only be `true` (for `#[schema(schema_with = ..)]`): a flag a client sends to
/// confirm, where `false` is refused.
pub fn only_true() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])).build()
}
