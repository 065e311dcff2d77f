//! Error replies in the RouterOS REST shape (spec §1.8).

use actix_web::http::StatusCode;
use serde_json::{Value, json};

/// A refused /rest request: either a JSON error reply or a dropped connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    Status {
        status: u16,
        detail: Option<String>,
    },
    /// Close the TCP connection without any response (client sees EOF/reset).
    Drop,
}

impl ApiError {
    pub fn bad(detail: impl Into<String>) -> Self {
        ApiError::Status {
            status: 400,
            detail: Some(detail.into()),
        }
    }
    pub fn failure(detail: &str) -> Self {
        Self::bad(format!("failure: {detail}"))
    }
    pub fn not_found() -> Self {
        ApiError::Status {
            status: 404,
            detail: None,
        }
    }
    pub fn no_such_item() -> Self {
        Self::bad("no such item")
    }
    pub fn no_command(cmd: &str) -> Self {
        ApiError::Status {
            status: 406,
            detail: Some(format!("no such command or directory ({cmd})")),
        }
    }
    pub fn unknown_parameter(name: &str) -> Self {
        Self::bad(format!("unknown parameter {name}"))
    }
    pub fn unauthorized() -> Self {
        ApiError::Status {
            status: 401,
            detail: None,
        }
    }
    pub fn unsupported_media() -> Self {
        ApiError::Status {
            status: 415,
            detail: None,
        }
    }
    pub fn session_closed() -> Self {
        Self::bad("Session closed")
    }
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Status { status, .. } => *status,
            ApiError::Drop => 0,
        }
    }
}

/// `{"error":400,"message":"Bad Request","detail":"..."}`; `detail` omitted when absent.
pub fn error_body(status: u16, detail: Option<&str>) -> Value {
    let message = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut v = json!({"error": status, "message": message});
    if let Some(d) = detail {
        v["detail"] = Value::String(d.to_string());
    }
    v
}
