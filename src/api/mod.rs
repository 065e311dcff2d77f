//! `api/` translates HTTP: actix-web routes in front of the actors. Handlers never talk to
//! RouterOS (the pod log is read by the pods actor); they ask actors, read their published
//! snapshots, and turn answers (and errors) into Kubernetes shapes.
//!
//! One folder per resource — `pods/`, `configmaps/`, and `namespaces.rs`, `nodes.rs`, `events.rs` —
//! each with its routes, rendering and watch; `machinery/` holds what every resource shares
//! (decoding, patches, parameters, write options, `v1.Status` errors, resource versions,
//! tables, the watch loop); `mkube/` holds mkube's own endpoints (health, metrics, images,
//! redeploy, DNS validation, consistency); `discovery.rs` and `openapi.rs` answer what kubectl asks first;
//! `auth.rs` and `tls.rs` guard the listener.

mod auth;
mod configmaps;
mod discovery;
mod events;
pub mod fleet;
mod machinery;
mod mkube;
mod namespaces;
mod nodes;
mod openapi;
mod pods;
mod tls;
pub mod ui;
pub mod update;

use crate::actors::wiring::Cluster;
use crate::config::{ApiConfig, Network};
use crate::metrics::Metrics;
use actix_web::middleware::from_fn;
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
    /// The configured networks (admission, pod status).
    pub networks: Arc<Vec<Network>>,
    /// Other nodes' folds, read when their controllers do not answer a fleet list.
    pub absent: Arc<pods::absent::AbsentNodes>,
}

impl ApiState {
    /// The state of an API that starts now, before replay (its cluster is set after).
    pub fn new(node: &str, metrics: Metrics, networks: &[Network]) -> ApiState {
        ApiState {
            node: node.to_string(),
            started: Instant::now(),
            metrics,
            cluster: Arc::new(OnceLock::new()),
            networks: Arc::new(networks.to_vec()),
            absent: Default::default(),
        }
    }
}

/// The running cluster, or 503 while the log is still being replayed.
pub fn cluster(state: &ApiState) -> Result<&Cluster, machinery::status::ApiError> {
    state
        .cluster
        .get()
        .ok_or_else(machinery::status::ApiError::not_ready)
}

/// Answers requests other controllers forward to this one (issue 16), once booted.
pub fn serve_fleet(api: &ApiConfig, node: &str, cluster: &Cluster) {
    let token = auth::load_token(&api.token_file)
        .ok()
        .flatten()
        .map(|t| t.to_string());
    let tls = !api.tls_cert.is_empty();
    fleet::serve(
        cluster.log.client().clone(),
        node,
        fleet::self_url(&api.listen, tls),
        token,
    );
}

/// Largest request body accepted (a Pod or ConfigMap is far smaller).
pub const MAX_BODY: usize = 1 << 20;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(mkube::routes)
        .configure(discovery::routes)
        .configure(openapi::routes)
        .configure(pods::routes)
        .configure(configmaps::routes)
        .configure(namespaces::routes)
        .configure(nodes::routes)
        .configure(events::routes)
        .configure(ui::routes);
}

/// Binds the API listener and returns the server (run it by awaiting). With `api.tokenFile`
/// every route but the health probes needs the bearer token; with `api.tlsCert`/`tlsKey` the
/// listener speaks TLS (rustls).
pub fn server(api: &ApiConfig, state: ApiState) -> std::io::Result<actix_web::dev::Server> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let token = auth::load_token(&api.token_file).map_err(invalid)?;
    let tls = tls::server_config(&api.tls_cert, &api.tls_key).map_err(invalid)?;
    let server = HttpServer::new(move || {
        let token = token.clone();
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(configure)
            .default_service(web::to(machinery::status::not_found_route))
            // Pods of other nodes (issue 16); inside the token check, so only an authorised
            // request is ever forwarded.
            .wrap(from_fn(pods::fleet::layer))
            .wrap(actix_web::middleware::Condition::new(
                token.is_some(),
                from_fn(move |req, next| {
                    auth::check(token.clone().unwrap_or_else(|| Arc::from("")), req, next)
                }),
            ))
    })
    .workers(2)
    // Watches never end by themselves: a graceful stop gives requests in flight 2 s, then
    // closes what is still open (kubectl and informers re-watch), instead of actix's 30 s.
    .shutdown_timeout(2)
    .disable_signals();
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(&api.listen, config)?,
        None => server.bind(&api.listen)?,
    };
    Ok(server.run())
}
