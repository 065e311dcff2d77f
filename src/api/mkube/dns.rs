//! `GET /api/v1/dns/validate` (R12): the zones against what mkube expects, and cross-network
//! forwarding. Always 200 with `{timestamp, summary: {pass, warn, fail}, checks: [...]}`.

use crate::actors::checks::Summary;
use crate::actors::dns::validate::Validate;
use crate::api::ApiState;
use crate::api::machinery::status::ApiError;
use actix_web::{HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/dns/validate", web::get().to(validate));
}

async fn validate(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let cluster = state.cluster.get().ok_or_else(ApiError::not_ready)?;
    let view = crate::api::pods::view::pods_view(&state).await?;
    let checks = cluster
        .dns
        .send(Validate { pods: view.pods })
        .await
        .map_err(|e| ApiError::internal(format!("dns actor unavailable: {e}")))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "summary": Summary::of(&checks),
        "checks": checks,
    })))
}
