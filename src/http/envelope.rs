//! The success envelope the mobile client reads: `{status, message, data, timestamp, traceId,
//! success}`.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::context;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub status: u16,
    pub message: String,
    pub data: T,
    pub timestamp: String,
    pub trace_id: String,
    pub success: bool,
}

/// A successful answer: a status, a Korean message and the data.
pub struct Success<T>(pub StatusCode, pub &'static str, pub T);

impl<T: Serialize> Success<T> {
    pub fn new(data: T) -> Self {
        Success(StatusCode::OK, "요청이 처리되었습니다.", data)
    }

    pub fn created(data: T) -> Self {
        Success(StatusCode::CREATED, "생성되었습니다.", data)
    }

    pub fn message(mut self, message: &'static str) -> Self {
        self.1 = message;
        self
    }
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        let Success(status, message, data) = self;
        let body = Envelope {
            status: status.as_u16(),
            message: message.to_string(),
            data,
            timestamp: context::now_rfc3339(),
            trace_id: context::trace_id(),
            success: status.is_success(),
        };
        // One buffer sized for a typical answer, instead of `Json`'s 128 bytes grown by doubling.
        let mut buf = Vec::with_capacity(4096);
        match serde_json::to_writer(&mut buf, &body) {
            Ok(()) => (status, [(axum::http::header::CONTENT_TYPE, "application/json")], buf).into_response(),
            // A value that cannot be JSON is the server's fault: the usual opaque 500.
            Err(err) => {
                super::ApiError::from(anyhow::Error::new(err).context("rendering an answer")).into_response()
            }
        }
    }
}

/// A success whose `data` is JSON rendered earlier (a cached view, say): written into the envelope
/// as it is, without being parsed again. Only for JSON this process rendered itself.
pub struct PreRendered {
    pub status: StatusCode,
    pub message: &'static str,
    pub data: bytes::Bytes,
}

impl PreRendered {
    pub fn ok(data: impl Into<bytes::Bytes>) -> Self {
        PreRendered { status: StatusCode::OK, message: "요청이 처리되었습니다.", data: data.into() }
    }
}

impl IntoResponse for PreRendered {
    fn into_response(self) -> Response {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        let mut body = Vec::with_capacity(self.data.len() + 192);
        body.extend_from_slice(
            format!("{{\"status\":{},\"message\":{},\"data\":", self.status.as_u16(), quote(self.message))
                .as_bytes(),
        );
        body.extend_from_slice(&self.data);
        body.extend_from_slice(
            format!(
                ",\"timestamp\":{},\"traceId\":{},\"success\":{}}}",
                quote(&context::now_rfc3339()),
                quote(&context::trace_id()),
                self.status.is_success()
            )
            .as_bytes(),
        );
        (self.status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pre_rendered_answer_is_the_same_envelope_as_a_serialized_one() {
        let data = serde_json::json!({"a": [1, 2], "b": "한글 \"따옴표\""});
        let pre = PreRendered::ok(serde_json::to_vec(&data).unwrap()).into_response();
        assert_eq!(pre.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(pre.into_body(), 1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["data"], data);
        assert_eq!(v["status"], 200);
        assert_eq!(v["success"], true);
        assert_eq!(v["message"], "요청이 처리되었습니다.");
        assert!(v["traceId"].as_str().is_some_and(|t| !t.is_empty()) && v["timestamp"].is_string());
    }
}
