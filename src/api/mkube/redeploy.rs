//! `POST /api/v1/images/redeploy` (API-4, images.md §4.5): queue a staggered rebuild of the
//! `image-policy: auto` pods running an image and answer at once.

use crate::actors::rollout::Redeploy;
use crate::api::ApiState;
use crate::api::MAX_BODY;
use crate::api::machinery::status::{self, ApiError};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/images/redeploy", web::post().to(redeploy));
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default)]
    image: Option<String>,
}

/// `{"image":"microdns:edge"}` → 200 `{"status":"ok","image":…,"queued":["ns/name",…]|null}`;
/// 400 `v1.Status` for invalid JSON or a missing `"image"`.
async fn redeploy(
    state: web::Data<ApiState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let cluster = state.cluster.get().ok_or_else(ApiError::not_ready)?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let parsed: Body = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let image = parsed
        .image
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("\"image\" is required"))?;
    let rollout = cluster.rollout.as_ref().ok_or_else(|| {
        ApiError::unavailable("redeploy needs the device engine (standalone mode)")
    })?;
    let queued = rollout
        .send(Redeploy {
            image: image.clone(),
        })
        .await
        .map_err(|e| ApiError::internal(format!("rollout actor unavailable: {e}")))?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "image": image,
        "queued": queued,
    })))
}
