//! API errors of the emulator: a status and a message, rendered as `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub message: String,
}

impl ErrorResponse {
    /// 400: the request is unacceptable.
    pub fn bad_request(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 401: no valid credential.
    pub fn unauthorized(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 403: the credential may not do this.
    pub fn forbidden(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 404: no such object.
    pub fn not_found(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 500: the emulator itself failed (e.g. the state file could not be written).
    pub fn internal(message: impl Into<String>) -> ErrorResponse {
        ErrorResponse {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

/// Renders an error body with the JSON content type.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        json_error(self.status, &self.message)
    }
}
