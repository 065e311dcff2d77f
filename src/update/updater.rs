//! The updater: what one mkube-update process holds (configuration, device client, registry
//! probe, record, marks) and the one lock that keeps its device work serial, whether the poll
//! loop, the event stream or the HTTP endpoint asked for it.

use super::config::UpdateConfig;
use super::digests::Digests;
use super::mark::Marks;
use super::record::RecordFile;
use super::replace::{self, Policy, Recovered, Swap, SwapError};
use super::stage::Stage;
use crate::routeros::{ClientOptions, Container, Pacing, RosClient};
use std::time::Duration;

pub struct Updater {
    pub cfg: UpdateConfig,
    pub ros: RosClient,
    pub digests: Digests,
    pub record: RecordFile,
    pub marks: Marks,
    pub policy: Policy,
    pub stage: Stage,
    pub(super) http: reqwest::Client,
    pub(super) busy: tokio::sync::Mutex<()>,
    /// The row the cycle's bootstrap check just read, with when; a replace of that container
    /// right after (same cycle, same lock) starts from it instead of reading it again.
    pub(super) seen: std::sync::Mutex<Option<(Container, std::time::Instant)>>,
}

impl Updater {
    /// Connects to the device (one attempt; the caller retries) and reads the registry CA.
    pub async fn connect(cfg: UpdateConfig) -> Result<Updater, String> {
        let ca = match std::fs::read(&cfg.registry_ca_cert) {
            Ok(pem) => Some(pem),
            Err(e) => {
                tracing::warn!(file = %cfg.registry_ca_cert, error = %e,
                    "no registry CA: registry certificates are not checked");
                None
            }
        };
        let mut opts = ClientOptions::new(
            &cfg.routeros_url,
            &cfg.routeros_user,
            &cfg.routeros_password,
        );
        opts.pacing = Pacing::scaled(cfg.pacing);
        // `add` with `remote-image` returns at once; with `file=` it may block for the import.
        opts.add_timeout = Duration::from_secs(120);
        let ros = RosClient::connect(opts)
            .await
            .map_err(|e| format!("RouterOS {}: {e}", cfg.routeros_url))?;
        let digests = Digests::new(&cfg.registry_url, ca.clone()).map_err(|e| e.to_string())?;
        let data = cfg.data_dir();
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let tarball_dir = if cfg.bootstrap.tarball_dir.is_empty() {
            data.clone()
        } else {
            cfg.bootstrap.tarball_dir.clone().into()
        };
        let stage = Stage {
            dir: tarball_dir,
            device_dir: cfg.tarball_device_dir(),
            arch: cfg.arch.clone(),
            registry_host: cfg.registry_host(),
            ca,
        };
        let policy = Policy {
            health: Duration::from_secs_f64(cfg.health_seconds.max(0.0)),
            start_retries: cfg.start_retries.max(1),
            ..Policy::default()
        };
        let tls = crate::tls::client_config(false, &[])?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(crate::resolve::Resolver::for_http())
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            // A replacement through mkube's API takes stop + pull + extraction + health.
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Updater {
            record: RecordFile::new(&data),
            marks: Marks::new(&data),
            cfg,
            ros,
            digests,
            policy,
            stage,
            http,
            busy: tokio::sync::Mutex::new(()),
            seen: std::sync::Mutex::new(None),
        })
    }

    /// `<registry host>/<repo>:<tag>`.
    pub fn image_ref(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.digests.host())
    }

    /// `<registry host>/<repo>@<digest>`: the exact image, for rollbacks.
    pub fn pinned_ref(&self, repo: &str, digest: &str) -> String {
        format!("{}/{repo}@{digest}", self.digests.host())
    }

    /// At start: finishes or undoes swaps a crash left behind, and settles a self-update
    /// asked of mkube before this process was replaced.
    pub async fn recover(&self) {
        let _busy = self.busy.lock().await;
        for mark in self.marks.pending() {
            let outcome = replace::recover(&self.ros, &self.policy, &mark).await;
            tracing::warn!(container = %mark.container, ?outcome, "interrupted swap recovered");
            let repo = mark.repo.clone();
            let result = self.record.update(|r| match &outcome {
                Recovered::Finished if !mark.digest.is_empty() => {
                    r.deployed
                        .insert(mark.container.clone(), mark.digest.clone());
                    r.clear_failures(&repo);
                }
                Recovered::RolledBack(_) | Recovered::Failed(_) if !mark.digest.is_empty() => {
                    r.count_failure(&repo, &mark.digest);
                }
                _ => {}
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "record not written");
            }
            // A failed recovery keeps the mark: nothing else touches the container until an
            // operator looks (the log says why).
            if !matches!(outcome, Recovered::Failed(_)) {
                self.marks.clear(&mark.container);
            }
        }
        self.settle_self_update().await;
    }

    /// Replaces one container (the update endpoint and the poll cycle); serial with all
    /// other device work of this process.
    pub async fn replace(&self, swap: Swap) -> Result<Container, SwapError> {
        let _busy = self.busy.lock().await;
        replace::replace(&self.ros, &self.marks, &self.policy, swap).await
    }
}
