//! The consistency checker over HTTP (§6.1, §6.4): `GET /api/v1/consistency`, always 200
//! with `{timestamp, summary, checks}`, and `POST /api/v1/consistency/repair`, which releases
//! the IPAM entries whose veth is not on the device (`{"released": [...], "count": n}`).

use crate::actors::consistency::{GetReport, ReleaseError, ReleaseOrphans};
use crate::api::ApiState;
use crate::api::machinery::status::{ApiError, method_not_allowed};
use actix_web::{HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/consistency", web::get().to(report))
        .route("/api/v1/consistency", web::route().to(method_not_allowed))
        .route("/api/v1/consistency/repair", web::post().to(repair))
        .route(
            "/api/v1/consistency/repair",
            web::route().to(method_not_allowed),
        );
}

async fn report(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let cluster = crate::api::cluster(&state)?;
    let served = cluster
        .consistency
        .send(GetReport)
        .await
        .map_err(|e| ApiError::internal(format!("consistency actor unavailable: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(served.json.clone()))
}

async fn repair(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let cluster = crate::api::cluster(&state)?;
    let released = cluster
        .consistency
        .send(ReleaseOrphans)
        .await
        .map_err(|e| ApiError::internal(format!("consistency actor unavailable: {e}")))?
        .map_err(|e| match e {
            ReleaseError::ListVeths(_) | ReleaseError::NoDevice | ReleaseError::Stopped => {
                ApiError::internal(e.to_string())
            }
            ReleaseError::Refused(_) | ReleaseError::Unrecorded(_) => {
                ApiError::unavailable(e.to_string())
            }
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "released": released,
        "count": released.len(),
    })))
}
