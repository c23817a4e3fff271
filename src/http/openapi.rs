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

/// The base with every fragment merged in, in order.
pub fn compose(fragments: &[fn() -> utoipa::openapi::OpenApi]) -> utoipa::openapi::OpenApi {
    let mut doc = base();
    for fragment in fragments {
        doc.merge(fragment());
    }
    doc
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
            let json = serde_json::to_vec(&doc).unwrap_or_default().into();
            let page = utoipa_scalar::Scalar::new(doc.clone()).to_html();
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
