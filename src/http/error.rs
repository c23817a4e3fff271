//! One error shape for every failure the API reports.
//!
//! Client mistakes keep their status and a stable `code`. Internal failures become one opaque 500
//! (or 503 when a dependency is down); their cause chain travels to the request middleware in a
//! response extension and is logged there, once. `err.to_string()` never reaches a body.

use std::sync::Arc;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::context;

/// A failing field of a request, by its JSON name.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {code}")]
    BadRequest { code: &'static str, message: String },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthenticated")]
    Unauthorized { code: &'static str, message: String },
    #[error("forbidden")]
    Forbidden { code: &'static str, message: String },
    #[error("not found")]
    NotFound { code: &'static str, message: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict { code: &'static str, message: String },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("request timed out")]
    Timeout,
    #[error("dependency unavailable: {dependency}")]
    Unavailable { dependency: &'static str, source: Option<Arc<anyhow::Error>> },
    #[error(transparent)]
    Internal(Arc<anyhow::Error>),
}

impl ApiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound { code: "NOT_FOUND", message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code_and_message(&self) -> (&'static str, String) {
        match self {
            ApiError::BadRequest { code, message }
            | ApiError::Unauthorized { code, message }
            | ApiError::Forbidden { code, message }
            | ApiError::NotFound { code, message }
            | ApiError::Conflict { code, message } => (code, message.clone()),
            ApiError::Validation(_) => ("VALIDATION_FAILED", "입력값을 확인해 주세요.".into()),
            ApiError::MethodNotAllowed => {
                ("METHOD_NOT_ALLOWED", "이 주소에서 지원하지 않는 요청 방식입니다.".into())
            }
            ApiError::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", "요청 본문이 너무 큽니다.".into()),
            ApiError::UnsupportedMediaType => {
                ("UNSUPPORTED_MEDIA_TYPE", "Content-Type: application/json 으로 보내 주세요.".into())
            }
            ApiError::TooManyRequests { .. } => {
                ("RATE_LIMITED", "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.".into())
            }
            ApiError::Timeout => ("TIMEOUT", "요청 처리 시간이 초과되었습니다. 다시 시도해 주세요.".into()),
            ApiError::Unavailable { .. } => (
                "SERVICE_UNAVAILABLE",
                "일시적으로 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.".into(),
            ),
            ApiError::Internal(_) => {
                ("INTERNAL_ERROR", "요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.".into())
            }
        }
    }
}

/// Whether a database error means "the database is unreachable" (retry later) rather than a
/// bug: no connection could be had in time, or the connection itself failed.
pub fn is_db_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
    )
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        let db_down =
            err.chain().any(|cause| cause.downcast_ref::<sqlx::Error>().is_some_and(is_db_unavailable));
        if db_down {
            return ApiError::Unavailable { dependency: "postgres", source: Some(Arc::new(err)) };
        }
        ApiError::Internal(Arc::new(err))
    }
}

/// The name of the database constraint `err` violated, if that is what happened.
pub fn violated_constraint(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(|cause| match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => db.constraint(),
        _ => None,
    })
}

/// Maps a violated database constraint to the client error it means, one call per constraint,
/// chained: `store::add(..).await.on_constraint("consents_user_fkey", || ..).on_constraint("..", || ..)?`.
/// A race that loses to another request then answers 401/404/409/422, never 500.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> ResultExt<T> for Result<T, anyhow::Error> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|err| if violated_constraint(&err) == Some(name) { to() } else { ApiError::from(err) })
    }
}

/// The chained calls: an internal error still carries its cause, so a later constraint is found.
impl<T> ResultExt<T> for Result<T, ApiError> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|err| match &err {
            ApiError::Internal(cause) if violated_constraint(cause) == Some(name) => to(),
            _ => err,
        })
    }
}

impl From<crate::platform::ratelimit::RateLimited> for ApiError {
    fn from(r: crate::platform::ratelimit::RateLimited) -> Self {
        ApiError::TooManyRequests { retry_after_secs: r.retry_after_secs }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::from(anyhow::Error::new(err))
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub success: bool,
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    pub trace_id: String,
    pub timestamp: String,
}

/// What the request middleware needs to log an internal failure once.
#[derive(Clone)]
pub struct LoggedCause(pub Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message) = self.code_and_message();
        let errors = match &self {
            ApiError::Validation(f) => f.clone(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            success: false,
            status: status.as_u16(),
            code,
            message,
            errors,
            trace_id: context::trace_id(),
            timestamp: context::now_rfc3339(),
        };
        let mut res = (status, axum::Json(body)).into_response();
        match &self {
            ApiError::TooManyRequests { retry_after_secs } => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            // RFC 9110 §15.5.2: a 401 names its challenge; RFC 6750 §3: a token that was sent
            // and refused is an `invalid_token`, a missing one gets the bare challenge.
            ApiError::Unauthorized { code, .. } => {
                let challenge = if *code == "UNAUTHENTICATED" {
                    HeaderValue::from_static(r#"Bearer realm="healthsync""#)
                } else {
                    HeaderValue::from_static(r#"Bearer realm="healthsync", error="invalid_token""#)
                };
                res.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            }
            _ => {}
        }
        match self {
            ApiError::Internal(cause) | ApiError::Unavailable { source: Some(cause), .. } => {
                res.extensions_mut().insert(LoggedCause(cause));
            }
            _ => {}
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a panicking handler answers: the opaque 500, its cause logged by the request middleware
/// (the panic message is not included: it may hold anything).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::from(anyhow::anyhow!("a handler panicked")).into_response()
}

#[cfg(test)]
mod tests {
    use super::{ApiError, ResultExt};

    /// A database error naming a violated constraint, as PostgreSQL reports one.
    #[derive(Debug)]
    struct Violation(&'static str);

    impl std::fmt::Display for Violation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "violates {}", self.0)
        }
    }

    impl std::error::Error for Violation {}

    impl sqlx::error::DatabaseError for Violation {
        fn message(&self) -> &str {
            "violation"
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.0)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::UniqueViolation
        }
    }

    fn failing(constraint: &'static str) -> Result<(), anyhow::Error> {
        Err(anyhow::Error::new(sqlx::Error::Database(Box::new(Violation(constraint))))
            .context("adding a row"))
    }

    fn code(r: Result<(), ApiError>) -> &'static str {
        match r {
            Err(ApiError::Conflict { code, .. } | ApiError::NotFound { code, .. }) => code,
            Err(ApiError::Internal(_)) => "INTERNAL",
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn on_constraint_chains_and_each_constraint_maps_to_its_own_error() {
        let map = |c| {
            failing(c)
                .on_constraint("a_key", || ApiError::Conflict { code: "A_EXISTS", message: String::new() })
                .on_constraint("b_fkey", || ApiError::NotFound { code: "B_GONE", message: String::new() })
        };
        assert_eq!(code(map("a_key")), "A_EXISTS");
        assert_eq!(code(map("b_fkey")), "B_GONE", "the second call still sees the cause");
        assert_eq!(code(map("c_check")), "INTERNAL", "an unmapped constraint stays a 500");
    }
}
