//! mkube's own endpoints beside the Kubernetes API: health and metrics, the image cache and
//! redeploys, DNS validation, the networks and their allocations, the consistency report
//! and repair, the event log for the console.

mod consistency;
mod dns;
mod health;
mod images;
mod log;
mod networks;
mod redeploy;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::routes)
        .configure(images::routes)
        .configure(redeploy::routes)
        .configure(dns::routes)
        .configure(networks::routes)
        .configure(consistency::routes)
        .configure(log::routes);
}
