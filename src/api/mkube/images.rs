//! The image cache over HTTP (images.md §3.13, §4.1): `GET /api/v1/images` and the registry's
//! push webhook `POST /api/v1/registry/push-notify`.

use crate::actors::images::{ImageError, ListImages, PushNotify};
use crate::actors::wiring::Cluster;
use crate::api::ApiState;
use crate::api::MAX_BODY;
use crate::api::machinery::status::{self, ApiError};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/images", web::get().to(list))
        .route("/api/v1/registry/push-notify", web::post().to(push_notify));
}

type Reply = Result<HttpResponse, ApiError>;

fn cluster(state: &ApiState) -> Result<&Cluster, ApiError> {
    state.cluster.get().ok_or_else(ApiError::not_ready)
}

/// 200, an array sorted by `ref` with `{ref, tarballPath, digest, pulledAt, size, inUse}`;
/// `inUse` counts the desired pods' containers using the image.
async fn list(state: web::Data<ApiState>) -> Reply {
    let cluster = cluster(&state)?;
    let pods = cluster
        .pods_published
        .read(&cluster.pods)
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))?;
    let pod_images = pods
        .state
        .pods
        .values()
        .filter_map(|p| p.pod.spec.as_ref())
        .flat_map(|spec| spec.containers.iter())
        .filter_map(|c| c.image.clone())
        .collect();
    let images = cluster
        .images
        .send(ListImages { pod_images })
        .await
        .map_err(|e| ApiError::internal(format!("images actor unavailable: {e}")))?;
    Ok(HttpResponse::Ok().json(images))
}

#[derive(Debug, Deserialize)]
struct PushBody {
    #[serde(default)]
    image: Option<String>,
}

/// `{"image": "<repo>:<tag>"}` or a digest reference → 200 `{"status":"ok","image":…}` once the
/// push is recorded and the repository's cache entries are invalidated (IMG-3).
async fn push_notify(state: web::Data<ApiState>, payload: web::Payload) -> Reply {
    let cluster = cluster(&state)?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    // An object only: serde would also read the struct from an array (`["app:v1"]`).
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let parsed: PushBody = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let image = parsed
        .image
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("\"image\" is required"))?;
    let msg = PushNotify {
        image: image.clone(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    cluster
        .images
        .send(msg)
        .await
        .map_err(|e| ApiError::internal(format!("images actor unavailable: {e}")))?
        .map_err(|e| match e {
            ImageError::Invalid(_) => ApiError::bad_request(e.to_string()),
            other => ApiError::internal(other.to_string()),
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok", "image": image})))
}
