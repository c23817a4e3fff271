//! The OpenAPI 3.1 document, generated from the handlers' annotations. A test proves every
//! route of the router appears here.

use utoipa::OpenApi;

use crate::{http, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "HealthSync API",
        description = "HealthSync 모바일 앱의 백엔드 API. 성공 응답은 {status, message, data, timestamp, traceId, success} 봉투로, 오류는 {code, message, traceId, errors} 형태로 답합니다."
    ),
    paths(
        http::system::live,
        http::system::ready,
        ops::routes::record,
        ops::routes::summary,
        ops::routes::one,
    ),
    components(schemas(http::error::ErrorBody, http::error::FieldError)),
    tags((name = "system", description = "운영: 상태 확인, 문서, 백본 시연"))
)]
pub struct ApiDoc;

/// The paths the document describes, plus the document and its page themselves.
pub fn documented_paths() -> Vec<String> {
    let mut paths: Vec<String> = ApiDoc::openapi().paths.paths.keys().cloned().collect();
    paths.extend(["/api/openapi.json".to_string(), "/api/docs".to_string()]);
    paths
}
