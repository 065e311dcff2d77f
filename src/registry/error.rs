//! The registry's error answer (spec images.md §2.3): an HTTP status with the OCI
//! `{"errors":[{code, message, detail}]}` body, and the errors several routes share.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

/// An OCI error response.
#[derive(Debug)]
pub struct OciError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(&'static str, String)>,
    unread: Option<UnreadBody>,
}

/// The rest of a request body the handler refused to read. actix-http drains a dropped
/// chunked body to its end to keep the connection alive; a body still held when the
/// response goes out makes it close the connection instead, so the error response keeps
/// it until the response body has been sent.
pub struct UnreadBody {
    _payload: web::Payload,
}

impl std::fmt::Debug for UnreadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnreadBody")
    }
}

impl OciError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> OciError {
        OciError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            headers: Vec::new(),
            unread: None,
        }
    }

    /// Keeps `payload` until the error response is written (see [`UnreadBody`]).
    pub fn holding(mut self, payload: web::Payload) -> OciError {
        self.unread = Some(UnreadBody { _payload: payload });
        self
    }

    pub fn header(mut self, k: &'static str, v: String) -> OciError {
        self.headers.push((k, v));
        self
    }

    pub fn response(self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        for (k, v) in &self.headers {
            b.insert_header((*k, v.as_str()));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not wanted: close instead of draining it for keep-alive.
            b.force_close();
        }
        b.content_type("application/json");
        let json = bytes::Bytes::from(
            serde_json::json!({"errors": [{"code": self.code, "message": self.message, "detail": null}]})
                .to_string(),
        );
        match self.unread {
            None => b.body(json),
            // The body is held until the response body has ended (the poll after its only
            // chunk), not only until that chunk is produced: dropped earlier, actix-http could
            // still start draining it before the close.
            Some(unread) => b.streaming(futures::stream::unfold(
                (Some(json), Some(unread)),
                |(json, unread)| async move {
                    match json {
                        Some(json) => {
                            Some((Ok::<_, std::convert::Infallible>(json), (None, unread)))
                        }
                        None => {
                            drop(unread);
                            None
                        }
                    }
                },
            )),
        }
    }
}

impl From<std::io::Error> for OciError {
    fn from(e: std::io::Error) -> OciError {
        tracing::error!(error = %e, "registry storage error");
        OciError::new(500, "UNKNOWN", "storage error")
    }
}

pub fn blob_unknown() -> OciError {
    OciError::new(404, "BLOB_UNKNOWN", "blob unknown to registry")
}

pub fn manifest_unknown() -> OciError {
    OciError::new(404, "MANIFEST_UNKNOWN", "manifest unknown")
}

pub fn upload_unknown() -> OciError {
    OciError::new(
        404,
        "BLOB_UPLOAD_UNKNOWN",
        "blob upload unknown to registry",
    )
}

pub fn digest_invalid(m: &str) -> OciError {
    OciError::new(400, "DIGEST_INVALID", m)
}

pub fn unsupported() -> OciError {
    OciError::new(405, "UNSUPPORTED", "the operation is unsupported")
}
