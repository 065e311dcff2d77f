//! Every error leaves the API as a Kubernetes `v1.Status` with the matching HTTP code, so
//! kubectl shows the message.

use crate::events::AppendError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

pub fn status(code: StatusCode, reason: &str, message: impl Into<String>) -> HttpResponse {
    let body = Status {
        code: Some(code.as_u16() as i32),
        message: Some(message.into()),
        reason: Some(reason.to_string()),
        status: Some(
            if code.is_success() {
                "Success"
            } else {
                "Failure"
            }
            .into(),
        ),
        ..Default::default()
    };
    HttpResponse::build(code).json(with_kind(body))
}

/// `Status` with `kind`/`apiVersion` set, as the API server sends it.
fn with_kind(status: Status) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("kind".into(), "Status".into());
        obj.insert("apiVersion".into(), "v1".into());
        obj.insert("metadata".into(), serde_json::json!({}));
    }
    v
}

pub fn success(message: impl Into<String>) -> HttpResponse {
    status(StatusCode::OK, "", message)
}

pub fn bad_request(message: impl Into<String>) -> HttpResponse {
    status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub fn not_found(message: impl Into<String>) -> HttpResponse {
    status(StatusCode::NOT_FOUND, "NotFound", message)
}

pub fn conflict(message: impl Into<String>) -> HttpResponse {
    status(StatusCode::CONFLICT, "AlreadyExists", message)
}

pub fn not_ready() -> HttpResponse {
    status(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "mkube is still replaying its event log",
    )
}

pub fn internal(message: impl Into<String>) -> HttpResponse {
    status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
}

/// A write the log did not take: unavailable → 503, conflict → 409, anything else → 500.
pub fn from_append(err: &AppendError) -> HttpResponse {
    match err {
        AppendError::Unavailable(_) => status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("write refused, nothing changed: {err}"),
        ),
        AppendError::Conflict { .. } => status(
            StatusCode::CONFLICT,
            "Conflict",
            format!("{err}; retry the request"),
        ),
        AppendError::Rejected(_) => internal(err.to_string()),
    }
}

pub async fn not_found_route(req: HttpRequest) -> HttpResponse {
    not_found(format!(
        "the server could not find the requested resource {}",
        req.path()
    ))
}
