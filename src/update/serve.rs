//! mkube-update's HTTP listener (`:8081`): `GET /healthz` → `ok`, and the same
//! `POST /api/v1/update-container` as mkube's update API, which mkube forwards to when asked to
//! replace its own container. A request for this updater's own container is refused (409):
//! that one goes through mkube's API.

use super::replace::{Swap, SwapError};
use super::request;
use super::updater::Updater;
use actix_web::{HttpResponse, web};
use std::sync::{Arc, OnceLock};

/// The updater, once connected to the device (`/healthz` answers before).
pub type Slot = Arc<OnceLock<Arc<Updater>>>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/api/v1/update-container", web::post().to(update_container));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

fn error(status: u16, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .json(serde_json::json!({"status": "error", "error": message.into()}))
}

async fn update_container(slot: web::Data<Slot>, body: web::Bytes) -> HttpResponse {
    let req = match request::parse(&body) {
        Ok(r) => r,
        Err(e) => return error(400, e),
    };
    let Some(updater) = slot.get() else {
        return error(503, "not connected to the device yet");
    };
    if req.name == updater.cfg.self_container {
        return error(
            409,
            "this is mkube-update's own container: ask mkube's update API",
        );
    }
    let swap = Swap {
        container: req.name.clone(),
        image: req.image,
        rollback: req.rollback,
        repo: String::new(),
        digest: String::new(),
    };
    match updater.replace(swap).await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(SwapError::Missing(n)) => error(404, format!("container {n} not found")),
        Err(SwapError::Busy(n)) => error(409, format!("a swap of {n} is already in progress")),
        Err(e) => error(500, e.to_string()),
    }
}
