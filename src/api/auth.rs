//! Bearer-token authentication (`api.tokenFile`): every route but `/healthz`, `/readyz` and
//! the console's static files (`/ui/…`) needs `Authorization: Bearer <token>`; anything else
//! is a 401 `Status`.

use crate::api::machinery::status::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use std::sync::Arc;

/// The token, read once at startup (surrounding whitespace trimmed). An empty file is refused.
pub fn load_token(path: &str) -> Result<Option<Arc<str>>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("api.tokenFile {path}: {e}"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("api.tokenFile {path} is empty"));
    }
    Ok(Some(Arc::from(token)))
}

const OPEN: [&str; 2] = ["/healthz", "/readyz"];

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn authorized(token: &str, header: Option<&str>) -> bool {
    header
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

pub async fn check(
    token: Arc<str>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // The console's files hold no data; what they show comes from the API, with the token.
    let open = OPEN.contains(&req.path()) || super::ui::is_console(req.path());
    if open || authorized(&token, header) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let response = ApiError::unauthorized().error_response();
    Ok(req.into_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(authorized("s3cret", Some("Bearer s3cret")));
        assert!(!authorized("s3cret", Some("Bearer s3cre")));
        assert!(!authorized("s3cret", Some("Bearer s3cretx")));
        assert!(!authorized("s3cret", Some("Basic s3cret")));
        assert!(!authorized("s3cret", None));
    }
}
