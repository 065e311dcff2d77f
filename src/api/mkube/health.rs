//! `/healthz` (answers as soon as the process runs), `/readyz` (after replay), `/metrics`.

use crate::api::ApiState;
use actix_web::{HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz(state: web::Data<ApiState>) -> HttpResponse {
    let uptime = state.started.elapsed().as_secs();
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("ok\nnode: {}\nuptime: {uptime}s\n", state.node))
}

async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    match state.cluster.get() {
        Some(_) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("replaying\n"),
    }
}

async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
