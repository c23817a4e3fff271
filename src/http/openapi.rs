//! The OpenAPI 3.1 document, generated from the handlers' annotations. A test proves every
//! route of the router appears here.

use utoipa::OpenApi;

use crate::{http, ops, users};

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
        users::auth_routes::login,
        users::auth_routes::refresh,
        users::auth_routes::logout,
        users::auth_routes::dev_login,
        users::account_routes::register,
        users::account_routes::profile,
        users::account_routes::update_profile,
        users::account_routes::consents,
        users::account_routes::put_consents,
        users::account_routes::export,
        users::account_routes::delete_me,
    ),
    components(schemas(http::error::ErrorBody, http::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "운영: 상태 확인, 문서, 백본 시연"),
        (name = "auth", description = "로그인, 토큰 갱신, 로그아웃"),
        (name = "users", description = "가입, 프로필, 동의, 내 정보 내려받기와 삭제"),
    )
)]
pub struct ApiDoc;

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

/// The paths the document describes, plus the document and its page themselves.
pub fn documented_paths() -> Vec<String> {
    let mut paths: Vec<String> = ApiDoc::openapi().paths.paths.keys().cloned().collect();
    paths.extend(["/api/openapi.json".to_string(), "/api/docs".to_string()]);
    paths
}
