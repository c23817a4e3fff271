//! The success envelope the mobile client reads: `{status, message, data, timestamp, traceId,
//! success}`.

use axum::{
    Json,
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
        (status, Json(body)).into_response()
    }
}
