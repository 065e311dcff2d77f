//! `api/` translates HTTP: actix-web routes in front of the actors. Handlers never talk to
//! RouterOS; they ask actors and turn answers (and errors) into Kubernetes shapes.

mod health;
mod images;
mod pods;
pub mod status;

use crate::actors::wiring::Cluster;
use crate::metrics::Metrics;
use actix_web::{App, HttpServer, web};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What handlers share. `cluster` is empty until replay has finished: until then the data
/// routes answer 503 and `/readyz` says not ready, while `/healthz` already answers.
#[derive(Clone)]
pub struct ApiState {
    pub node: String,
    pub started: Instant,
    pub metrics: Metrics,
    pub cluster: Arc<OnceLock<Cluster>>,
}

/// Largest request body accepted (a Pod or ConfigMap is far smaller).
pub const MAX_BODY: usize = 1 << 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::routes)
        .configure(pods::routes)
        .configure(images::routes);
}

/// Binds the API listener and returns the server (run it by awaiting).
pub fn server(listen: &str, state: ApiState) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(configure)
            .default_service(web::to(status::not_found_route))
    })
    .workers(2)
    .disable_signals()
    .bind(listen)?
    .run();
    Ok(server)
}
