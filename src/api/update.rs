//! The update API (images.md §4.6) on its own listener (`update.listen`, `:8080`):
//! `POST /api/v1/update-container` `{"name","tag"}` → 200 `{"status":"ok"}` once the container
//! runs the new image (RouterOS `remote-image`, never `tag`; or `file=`); 400 for a bad body,
//! 404 for an unknown container, 409 while a swap of it is in progress, 500 with the error
//! otherwise (a rolled-back swap included). The work is the updater actor's.

use crate::actors::updater::{UpdateContainer, UpdateFailed, UpdaterActor};
use crate::api::machinery::status::{self, ApiError};
use actix::Addr;
use actix_web::{App, HttpResponse, HttpServer, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/update-container", web::post().to(update_container));
}

async fn update_container(
    updater: web::Data<Addr<UpdaterActor>>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = status::read_body(payload, 64 * 1024).await?;
    let req = crate::update::request::parse(&body).map_err(ApiError::bad_request)?;
    tracing::info!(container = %req.name, image = %req.image, "update-container");
    match updater.send(UpdateContainer(req)).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))),
        Ok(Err(UpdateFailed::NotFound(n))) => {
            Err(ApiError::not_found(format!("container {n} not found")))
        }
        Ok(Err(UpdateFailed::Busy(n))) => Err(ApiError::conflict(format!(
            "a swap of {n} is already in progress"
        ))),
        Ok(Err(UpdateFailed::Failed(e))) => Err(ApiError::internal(e)),
        Err(e) => Err(ApiError::internal(format!("updater unavailable: {e}"))),
    }
}

/// Binds the update API listener (not yet running).
pub fn server(
    listen: &str,
    updater: Addr<UpdaterActor>,
) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(updater.clone()))
            .configure(routes)
            .default_service(web::to(status::not_found_route))
    })
    .workers(1)
    .shutdown_timeout(2)
    .disable_signals()
    .bind(listen)?;
    Ok(server.run())
}
