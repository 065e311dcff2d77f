//! The mkube-update process: serve `/healthz` at once, connect to the device (retrying), settle
//! what a crash or a self-update left behind, follow the registry's push events, and run a
//! cycle at start, on every push and every `pollSeconds`.

use super::config::UpdateConfig;
use super::serve::{self, Slot};
use super::updater::Updater;
use actix_web::{App, HttpServer, web};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub async fn run(cfg: UpdateConfig) -> std::io::Result<()> {
    let slot: Slot = Arc::default();
    let data = slot.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(data.clone()))
            .app_data(web::PayloadConfig::new(64 * 1024))
            .configure(serve::routes)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(&cfg.listen)?
    .run();
    let handle = server.handle();
    let server_task = actix_web::rt::spawn(server);
    tracing::info!(listen = %cfg.listen, "mkube-update listening");

    let work = async {
        let mut delay = Duration::from_secs(1);
        let updater = loop {
            match Updater::connect(cfg.clone()).await {
                Ok(u) => break Arc::new(u),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = delay.as_secs(), "device not reachable");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        };
        let _ = slot.set(updater.clone());
        updater.recover().await;
        let wake = Arc::new(Notify::new());
        if let Some(url) = cfg.events_url() {
            tokio::spawn(super::events::follow(url, wake.clone()));
        }
        loop {
            updater.cycle().await;
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll_interval()) => {}
                _ = wake.notified() => {}
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = crate::process::shutdown_requested() => tracing::info!("shutting down"),
    }
    handle.stop(true).await;
    let _ = server_task.await;
    Ok(())
}
