//! Every error leaves the API as a Kubernetes `v1.Status` with the matching HTTP code, so
//! kubectl shows the message.

use crate::events::AppendError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use std::fmt;

/// An API failure; renders as a `v1.Status`.
#[derive(Debug)]
pub struct ApiError {
    code: StatusCode,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "AlreadyExists", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("request body larger than {limit} bytes"),
        )
    }

    pub fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "mkube is still replaying its event log",
        )
    }

    /// 422 `Invalid`: the object is well-formed but a field is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    /// 410 `Expired`: a watch asked to start before the oldest retained event.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }
}

/// A write the log did not take: unavailable → 503 (nothing changed), sent but not
/// acknowledged → 504 (it may be recorded), conflict → 409, anything else → 500.
impl From<&AppendError> for ApiError {
    fn from(err: &AppendError) -> Self {
        match err {
            AppendError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("write refused, nothing changed: {err}"),
            ),
            // Kubernetes' answer to a write whose outcome is unknown: 504, read before retrying.
            AppendError::Unknown(_) => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "Timeout",
                format!(
                    "the write may or may not have been recorded: {err}; read the object before retrying"
                ),
            ),
            AppendError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("{err}; retry the request"),
            ),
            AppendError::Rejected(_) => Self::internal(err.to_string()),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.code.as_u16(),
            self.reason,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code
    }

    fn error_response(&self) -> HttpResponse {
        status(self.code, self.reason, &self.message)
    }
}

pub fn status(code: StatusCode, reason: &str, message: &str) -> HttpResponse {
    HttpResponse::build(code).json(status_value(code, reason, message))
}

/// The `v1.Status` body (also the object of a watch `ERROR` event).
pub fn status_value(code: StatusCode, reason: &str, message: &str) -> serde_json::Value {
    let body = Status {
        code: Some(code.as_u16() as i32),
        message: Some(message.to_string()),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
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
    let mut v = serde_json::to_value(body).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("kind".into(), "Status".into());
        obj.insert("apiVersion".into(), "v1".into());
        obj.insert("metadata".into(), serde_json::json!({}));
    }
    v
}

/// `200 Status{status: Success}` with the deleted object's name, kind and uid, as an API
/// server answers the delete of an object without graceful deletion (a ConfigMap).
pub fn deleted(kind: &str, name: &str, uid: &str) -> HttpResponse {
    let mut body = status_value(StatusCode::OK, "", "");
    if let Some(obj) = body.as_object_mut() {
        obj.remove("message");
        obj.insert(
            "details".into(),
            serde_json::json!({"name": name, "kind": kind, "uid": uid}),
        );
    }
    HttpResponse::Ok().json(body)
}

/// Reads a request body of at most `limit` bytes; more is a 413 `Status`.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// 405 for a verb a served path does not take, as an API server answers.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let detail = if req.path().starts_with("/api/v1/namespaces")
        && !req.path().contains("/pods")
        && !req.path().contains("/configmaps")
        && !req.path().contains("/events")
    {
        "; namespaces are derived from the pods and ConfigMaps in them: create one in the namespace instead"
    } else {
        ""
    };
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "the server does not allow this method on the requested resource ({} {}){detail}",
            req.method(),
            req.path()
        ),
    )
    .error_response()
}

pub async fn not_found_route(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!(
        "the server could not find the requested resource ({} {})",
        req.method(),
        req.path()
    ))
    .error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unacknowledged_write_is_504_not_503() {
        let code = |e: AppendError| ApiError::from(&e).status_code().as_u16();
        assert_eq!(code(AppendError::Unavailable("down".into())), 503);
        assert_eq!(code(AppendError::Unknown("timed out".into())), 504);
        assert_eq!(code(AppendError::Rejected("x".into())), 500);
        let e = ApiError::from(&AppendError::Unknown("timed out".into()));
        assert_eq!(e.reason, "Timeout");
        assert!(
            e.message.contains("may or may not have been recorded"),
            "{}",
            e.message
        );
    }
}
