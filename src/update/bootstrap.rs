//! Bootstrap of mkube (images.md §5.4), checked at start and on every cycle, so a container
//! that disappears later is created again. Running → nothing; stopped → start; missing (after
//! 5 lookups, so a briefly unreachable device is not mistaken for a missing container) → add
//! from the local registry (the configured image's last path component under the registry
//! host: the device never pulls mkube from upstream) with the bootstrap fields, then the same
//! extraction wait, start and health check as a swap. A swap mark on the container means a
//! swap is under way: hands off.

use super::mark::{Settings, Source};
use super::replace;
use super::updater::Updater;
use crate::routeros::Container;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrapped {
    AlreadyRunning,
    Started,
    Created {
        image: String,
    },
    /// A swap of the container is in progress.
    SwapInProgress,
}

/// How long the bootstrap check's row stands in for a fresh read by the replace that follows it
/// in the same cycle (registry lookups in between take milliseconds).
const SEEN_FOR: Duration = Duration::from_secs(2);

/// Lookups before the container counts as missing.
const LOOKUPS: usize = 5;

impl Updater {
    /// `<upstream>/glennswest/mkube:edge` → `<registry host>/mkube:edge`.
    pub fn bootstrap_image(&self) -> String {
        let image = self.cfg.bootstrap.image.trim();
        let last = image.rsplit('/').next().unwrap_or(image);
        format!("{}/{last}", self.digests.host())
    }

    fn bootstrap_settings(&self) -> Settings {
        let c = &self.cfg.bootstrap.container;
        Settings {
            name: c.name.clone(),
            interface: c.interface.clone(),
            root_dir: c.root_dir.clone(),
            mountlists: c.mount_lists.clone(),
            envlists: c.env_lists.clone(),
            cmd: c.cmd.clone(),
            entrypoint: String::new(),
            workdir: String::new(),
            user: c.user.clone(),
            hostname: c.hostname.clone(),
            dns: c.dns.clone(),
            logging: c.logging,
            start_on_boot: c.start_on_boot,
        }
    }

    /// Keeps a row just read for a replace later in this cycle ([`Updater::recently_seen`]).
    fn remember(&self, row: Container) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some((row, Instant::now()));
    }

    /// The row of `name` the bootstrap check read in this cycle, if it is at most
    /// [`SEEN_FOR`] old; taken, so it serves one replace at most.
    pub(super) fn recently_seen(&self, name: &str) -> Option<Container> {
        let (row, at) = self.seen.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        (row.name == name && at.elapsed() <= SEEN_FOR).then_some(row)
    }

    /// Reads the container, retrying a failed read [`LOOKUPS`] times one poll apart.
    async fn lookup(&self, name: &str) -> Result<Option<Container>, String> {
        let mut last = String::new();
        for i in 0..LOOKUPS {
            if i > 0 {
                self.ros.pacing().sleep_secs(1.0).await;
            }
            match self.ros.find_container(name).await {
                Ok(row) => return Ok(row),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!(
            "{name}: device lookup failed {LOOKUPS} times: {last}"
        ))
    }

    /// The bootstrap check; the caller holds the device lock.
    pub(super) async fn ensure_bootstrapped(&self) -> Result<Bootstrapped, String> {
        let name = self.cfg.bootstrap.container.name.clone();
        if self.marks.exists(&name) {
            return Ok(Bootstrapped::SwapInProgress);
        }
        match self.lookup(&name).await? {
            Some(row) if row.state.is_running() => {
                self.remember(row);
                Ok(Bootstrapped::AlreadyRunning)
            }
            Some(row) => {
                let row = if row.state.is_stopped() {
                    row
                } else {
                    self.ros
                        .wait_extracted(&name)
                        .await
                        .map_err(|e| e.to_string())?
                };
                if row.state.is_stopped() {
                    tracing::info!(container = %name, "bootstrap: starting the stopped container");
                    self.ros
                        .start_container(&row.id)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                self.ros
                    .wait_running(&name)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Bootstrapped::Started)
            }
            None => {
                let image = self.bootstrap_image();
                let parts = crate::oci::reference::split(&image);
                let digest = match parts.tag_unless_pinned() {
                    Some(tag) => self.digests.digest(parts.path(), tag).await.ok(),
                    None => parts.digest.map(str::to_string),
                };
                tracing::info!(container = %name, %image, "bootstrap: creating");
                replace::create(
                    &self.ros,
                    &self.marks,
                    &self.policy,
                    self.bootstrap_settings(),
                    Source::Remote(image.clone()),
                )
                .await
                .map_err(|e| e.to_string())?;
                if let Some(d) = digest {
                    let _ = self.record.update(|r| {
                        r.deployed.insert(name.clone(), d);
                    });
                }
                Ok(Bootstrapped::Created { image })
            }
        }
    }
}
