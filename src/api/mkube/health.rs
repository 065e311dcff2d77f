//! `/healthz` (answers as soon as the process runs), `/readyz` (after replay), `/metrics`.

use crate::api::ApiState;
use crate::api::pods::view::pods_view;
use crate::metrics::Format;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::time::Duration;

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

/// OpenMetrics when `Accept` asks for it (Prometheus does), else the classic text format:
/// a missing, different or malformed `Accept` still gets text, never an error.
async fn metrics(req: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    count_pods_by_phase(&state).await;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    HttpResponse::Ok()
        .content_type(format.content_type())
        .body(state.metrics.render_as(format))
}

/// How long a scrape waits for the pods fold. It is usually published and read at once; right
/// after a write the actor is asked, and an actor held up by a NATS outage must not hold the
/// scrape up with it.
const PODS_VIEW_WAIT: Duration = Duration::from_secs(1);

/// `mkube_pods{phase}` from the statuses the API shows now. Before replay ends, or when the
/// fold does not come within [`PODS_VIEW_WAIT`], the last counts stay.
async fn count_pods_by_phase(state: &ApiState) {
    let Ok(cluster) = crate::api::cluster(state) else {
        return;
    };
    let Ok(Ok(view)) = tokio::time::timeout(PODS_VIEW_WAIT, pods_view(state)).await else {
        tracing::debug!("pods fold not available; mkube_pods keeps its last counts");
        return;
    };
    let node = cluster.log.node();
    let inputs = state.status_inputs(&view);
    let phases: Vec<String> = view
        .pods
        .pods
        .iter()
        .map(|(key, desired)| {
            let (ns, name) = key.split_once('/').unwrap_or(("", key));
            let seq = view.seq(node, ns, name);
            inputs.status_of(desired, seq).phase.unwrap_or_default()
        })
        .collect();
    state
        .metrics
        .set_pods_by_phase(phases.iter().map(String::as_str));
}
