//! Extractors whose rejections use the API's error shape instead of axum's plain text.

use axum::{
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// A JSON body. Syntax errors are 400, a body of the wrong shape is 422 with the failing field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    match rej {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonDataError(e) => ApiError::Validation(vec![FieldError::new(
            failing_field(&e.body_text()),
            "형식이 올바르지 않거나 누락되었습니다.",
        )]),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("MALFORMED_JSON", "요청 본문이 올바른 JSON이 아닙니다.")
        }
        JsonRejection::BytesRejection(b) if b.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        _ => ApiError::bad_request("BAD_BODY", "요청 본문을 읽을 수 없습니다."),
    }
}

/// Path parameters; a malformed one (say, not a UUID) is a 400 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|rej: PathRejection| {
                tracing::debug!(reason = %rej.body_text(), "path rejected");
                ApiError::bad_request("BAD_PATH", "주소의 식별자 형식이 올바르지 않습니다.")
            })
    }
}

/// Query parameters; a malformed one is a 400.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|_: QueryRejection| {
                ApiError::bad_request("BAD_QUERY", "쿼리 매개변수 형식이 올바르지 않습니다.")
            })
    }
}

/// The JSON path of the failing field from axum's data-error text
/// (`Failed to deserialize ...: {path}: {reason}`), without the reason, which may quote input.
fn failing_field(text: &str) -> String {
    let rest = text.split_once("target type: ").map_or(text, |(_, r)| r);
    let (path, reason) = rest.split_once(": ").unwrap_or((".", rest));
    // serde_path_to_error's path: names, indexes and dots only (a reason such as "invalid type"
    // is not a path: the body as a whole had the wrong shape).
    let is_path =
        |p: &str| p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'));
    if path != "." && !path.is_empty() && path.len() <= 120 && is_path(path) {
        return path.to_string();
    }
    // A missing top-level field: serde names it in backticks.
    reason
        .split_once("missing field `")
        .and_then(|(_, r)| r.split_once('`'))
        .map_or_else(|| "body".to_string(), |(name, _)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::failing_field;

    #[test]
    fn the_failing_field_is_taken_from_the_path_or_the_missing_name() {
        let t = "Failed to deserialize the JSON body into the target type: note: invalid type: integer `5`, expected a string at line 1 column 10";
        assert_eq!(failing_field(t), "note");
        let t = "Failed to deserialize the JSON body into the target type: missing field `note` at line 1 column 2";
        assert_eq!(failing_field(t), "note");
        assert_eq!(failing_field("garbage"), "body");
        let t = "Failed to deserialize the JSON body into the target type: invalid type: integer `5`, expected struct X at line 1 column 1";
        assert_eq!(failing_field(t), "body");
        let t = "Failed to deserialize the JSON body into the target type: consents[0].granted: invalid type: string \"x\", expected a boolean at line 1 column 40";
        assert_eq!(failing_field(t), "consents[0].granted");
    }
}
