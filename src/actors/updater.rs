//! The updater actor behind mkube's update API (images.md §4.6): replaces one device container
//! at a time, keeping its settings, with the swap mark, health check and rollback of
//! [`crate::update::replace`]. A request for mkube's own container is handed to mkube-update
//! (a process cannot replace the container it runs in; mkube-update does the same the other
//! way round). At start it finishes or rolls back a swap a crash cut short.

use super::device::DeviceLink;
use crate::config::UpdateApiConfig;
use crate::update::mark::Marks;
use crate::update::replace::{self, Policy, Swap, SwapError};
use crate::update::request::UpdateRequest;
use actix::prelude::*;
use std::path::Path;
use std::time::Duration;

pub struct UpdaterActor {
    link: DeviceLink,
    marks: Marks,
    policy: Policy,
    config: UpdateApiConfig,
    /// The client for the hand-over (an error when it could not be built).
    http: Result<reqwest::Client, String>,
}

impl UpdaterActor {
    pub fn new(link: DeviceLink, config: &UpdateApiConfig) -> UpdaterActor {
        let http = crate::tls::client_config(false, &[]).and_then(|tls| {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .dns_resolver(crate::resolve::Resolver::for_http())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(600))
                .build()
                .map_err(|e| e.to_string())
        });
        UpdaterActor {
            link,
            marks: Marks::new(Path::new(&config.mark_dir)),
            policy: Policy {
                health: Duration::from_secs_f64(config.health_seconds.max(0.0)),
                ..Policy::default()
            },
            config: config.clone(),
            http,
        }
    }
}

impl Actor for UpdaterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let pending = self.marks.pending();
        if pending.is_empty() {
            return;
        }
        let (link, marks, policy) = (self.link.clone(), self.marks.clone(), self.policy.clone());
        // Requests wait until the interrupted swaps are settled.
        ctx.wait(
            async move {
                let ros = match link.get().await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "interrupted swaps not recovered: no device");
                        return;
                    }
                };
                for mark in pending {
                    let outcome = replace::recover(&ros, &policy, &mark).await;
                    tracing::warn!(container = %mark.container, ?outcome, "interrupted swap recovered");
                    if !matches!(outcome, replace::Recovered::Failed(_)) {
                        marks.clear(&mark.container);
                    }
                }
            }
            .into_actor(self),
        );
    }
}

/// Replace `request.name` with `request.image`.
#[derive(Message)]
#[rtype(result = "Result<(), UpdateFailed>")]
pub struct UpdateContainer(pub UpdateRequest);

/// Why an update failed, by what the API answers.
#[derive(Debug)]
pub enum UpdateFailed {
    NotFound(String),
    Busy(String),
    Failed(String),
}

impl Handler<UpdateContainer> for UpdaterActor {
    type Result = AtomicResponse<Self, Result<(), UpdateFailed>>;

    fn handle(&mut self, msg: UpdateContainer, _: &mut Context<Self>) -> Self::Result {
        let req = msg.0;
        let (link, marks, policy) = (self.link.clone(), self.marks.clone(), self.policy.clone());
        let forward = (req.name == self.config.self_container).then(|| {
            (
                self.http.clone().map_err(UpdateFailed::Failed),
                format!(
                    "{}/api/v1/update-container",
                    self.config.updater_url.trim_end_matches('/')
                ),
            )
        });
        AtomicResponse::new(Box::pin(
            async move {
                if let Some((http, url)) = forward {
                    return hand_over(&http?, &url, &req).await;
                }
                let ros = link
                    .get()
                    .await
                    .map_err(|e| UpdateFailed::Failed(format!("RouterOS: {e}")))?;
                let swap = Swap {
                    container: req.name.clone(),
                    image: req.image,
                    rollback: req.rollback,
                    repo: String::new(),
                    digest: String::new(),
                };
                match replace::replace(&ros, &marks, &policy, swap).await {
                    Ok(_) => Ok(()),
                    Err(SwapError::Missing(n)) => Err(UpdateFailed::NotFound(n)),
                    Err(SwapError::Busy(n)) => Err(UpdateFailed::Busy(n)),
                    Err(e) => Err(UpdateFailed::Failed(e.to_string())),
                }
            }
            .into_actor(self),
        ))
    }
}

/// mkube's own container: mkube-update does the swap.
async fn hand_over(
    http: &reqwest::Client,
    url: &str,
    req: &UpdateRequest,
) -> Result<(), UpdateFailed> {
    use crate::update::mark::Source;
    let mut body = serde_json::json!({"name": req.name});
    match &req.image {
        Source::Remote(r) => body["tag"] = r.clone().into(),
        Source::File(f) => body["file"] = f.clone().into(),
    }
    if let Some(rb) = &req.rollback {
        body["rollback"] = match rb {
            Source::Remote(r) => r.clone(),
            Source::File(f) => format!("file={f}"),
        }
        .into();
    }
    tracing::info!(container = %req.name, url, "own container: handing the swap to mkube-update");
    let resp = http
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| UpdateFailed::Failed(format!("mkube-update at {url}: {e}")))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(UpdateFailed::Failed(format!(
            "mkube-update at {url} answered {status}: {text}"
        )))
    }
}
