//! `mkube run`: load the config, serve health at once, replay, start the actors, serve.

use anyhow::Context as _;
use clap::Args;
use mkube::actors::wiring::{self, BootClock};
use mkube::api::{self, ApiState};
use mkube::config;
use mkube::metrics::Metrics;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct RunArgs {
    /// Configuration file (YAML).
    #[arg(long, default_value = "/etc/mkube/config.yaml")]
    config: PathBuf,
    /// Override `nodeName`.
    #[arg(long)]
    node_name: Option<String>,
    /// Override `nats.url`.
    #[arg(long)]
    nats_url: Option<String>,
    /// Override `api.listen`.
    #[arg(long)]
    listen: Option<String>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let clock = BootClock::default();
    let origin = args.config.display().to_string();
    let loaded = config::load(&args.config)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let mut cfg = loaded.config;
    // Only flags the user set override the file.
    if let Some(v) = args.node_name {
        cfg.node_name = v;
    }
    if let Some(v) = args.nats_url {
        cfg.nats.url = v;
    }
    if let Some(v) = args.listen {
        cfg.api.listen = v;
    }
    cfg.validate(&origin)?;
    clock.phase("config loaded");

    let metrics = Metrics::new();
    let state = ApiState::new(&cfg.node_name, metrics.clone(), &cfg.networks);
    let server = api::server(&cfg.api, state.clone())
        .with_context(|| format!("binding the API on {}", cfg.api.listen))?;
    let handle = server.handle();
    let server_task = actix_web::rt::spawn(server);
    tracing::info!(listen = %cfg.api.listen, "API listening (health now, data after replay)");
    clock.phase("HTTP listening");
    let update_server = start_update_api(&cfg, &metrics);

    let booting = async {
        let mut delay = Duration::from_secs(1);
        loop {
            match wiring::boot(&cfg, metrics.clone(), &clock).await {
                Ok(cluster) => return cluster,
                Err(e) => {
                    tracing::error!(error = %e, retry_in_s = delay.as_secs(), "boot failed");
                    actix_web::rt::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    };
    let cluster = tokio::select! {
        cluster = booting => cluster,
        _ = mkube::process::shutdown_requested() => {
            handle.stop(true).await;
            return Ok(());
        }
    };
    let _ = state.cluster.set(cluster.clone());
    api::serve_fleet(&cfg.api, &cfg.node_name, &cluster);
    clock.phase("complete, serving");

    mkube::process::shutdown_requested().await;
    tracing::info!("shutting down: writing a final snapshot");
    match cluster.snapshotter.flush().await {
        Ok(seq) => tracing::info!(seq, "final snapshot written"),
        Err(e) => tracing::warn!(error = %e, "final snapshot not written"),
    }
    handle.stop(true).await;
    if let Some(h) = update_server {
        h.stop(true).await;
    }
    let _ = server_task.await;
    Ok(())
}

/// The update API (images.md §4.6) on its own listener, independent of the log: it needs only
/// the device (its RouterOS calls count in `/metrics` too). A listener that cannot bind is
/// logged, and mkube runs on without it.
fn start_update_api(
    cfg: &config::Config,
    metrics: &Metrics,
) -> Option<actix_web::dev::ServerHandle> {
    use actix::Actor as _;
    let listen = cfg.update.listen.trim();
    if listen.is_empty() {
        return None;
    }
    let link = mkube::actors::device::DeviceLink::new(cfg).with_metrics(metrics.clone());
    let updater = mkube::actors::updater::UpdaterActor::new(link, &cfg.update).start();
    match api::update::server(listen, updater) {
        Ok(server) => {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            tracing::info!(listen, "update API listening");
            Some(handle)
        }
        Err(e) => {
            tracing::error!(listen, error = %e, "update API not started");
            None
        }
    }
}
