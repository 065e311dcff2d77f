//! The poll cycle (images.md §5.2): bootstrap check, then each watch in order: newest digest by
//! tag preference, compared per container with the digest it was deployed from (the record),
//! replacement (self-update through mkube's API, the registry from a pre-staged tarball,
//! rolling or in turn), failures counted per digest and a digest left alone after
//! `maxFailures`.

use super::config::Watch;
use super::mark::Source;
use super::replace::{self, Swap};
use super::updater::Updater;

/// What a watch's check came to (logged; returned for tests and the bench).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchOutcome {
    /// No preferred tag exists (or the registry did not answer).
    NoTag,
    UpToDate,
    /// Failed `maxFailures` times at this digest: the old containers stay.
    LeftAlone {
        digest: String,
    },
    /// Every stale target runs the digest now.
    Replaced {
        digest: String,
        targets: Vec<String>,
    },
    /// Some target failed (others may have been replaced).
    Failed {
        digest: String,
        reason: String,
    },
}

impl Updater {
    /// One cycle over the bootstrap container and every watch.
    pub async fn cycle(&self) -> Vec<(String, WatchOutcome)> {
        let _busy = self.busy.lock().await;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if self.cfg.bootstrap.enabled {
            match self.ensure_bootstrapped().await {
                Ok(outcome) => tracing::debug!(?outcome, "bootstrap check"),
                Err(e) => tracing::warn!(error = %e, "bootstrap check failed"),
            }
        }
        let mut out = Vec::new();
        for w in &self.cfg.watches {
            let outcome = self.check_watch(w).await;
            match &outcome {
                WatchOutcome::Failed { .. } | WatchOutcome::LeftAlone { .. } => {
                    tracing::warn!(repo = %w.repo, ?outcome, "watch")
                }
                WatchOutcome::Replaced { .. } => tracing::info!(repo = %w.repo, ?outcome, "watch"),
                _ => tracing::debug!(repo = %w.repo, ?outcome, "watch"),
            }
            out.push((w.repo.clone(), outcome));
        }
        out
    }

    async fn check_watch(&self, w: &Watch) -> WatchOutcome {
        let Some((tag, digest)) = self.digests.newest(&w.repo, &w.tag_preference()).await else {
            return WatchOutcome::NoTag;
        };
        let record = match self.record.load() {
            Ok(r) => r,
            Err(e) => {
                return WatchOutcome::Failed { digest, reason: e };
            }
        };
        // The record holds what each container was deployed from: written by the installer
        // for its containers before this process first ran, by the bootstrap for mkube, and
        // by every swap. A recorded digest that differs is stale, whenever it changed (also
        // while this process was down). Only a container nobody recorded (made by hand) falls
        // back to the first sighting: the registry's digest is taken for what it runs.
        let mut stale = Vec::new();
        let mut adopt = Vec::new();
        for t in w.targets() {
            match record.deployed.get(&t) {
                Some(d) if *d == digest => {}
                Some(_) => stale.push(t),
                None => adopt.push(t),
            }
        }
        for t in &adopt {
            tracing::info!(container = %t, %digest, "no record of its image: first sighting taken as deployed");
        }
        let _ = self.record.update(|r| {
            r.seen.insert(w.repo.clone(), digest.clone());
            for t in &adopt {
                r.deployed.insert(t.clone(), digest.clone());
            }
        });
        if stale.is_empty() {
            return WatchOutcome::UpToDate;
        }
        if record.failures_of(&w.repo, &digest) >= self.cfg.max_failures {
            return WatchOutcome::LeftAlone { digest };
        }
        let image = self.image_ref(&w.repo, &tag);
        let result = if w.self_update {
            self.self_update(w, &image, &digest, &stale).await
        } else {
            self.replace_targets(w, &tag, &image, &digest, &stale).await
        };
        match result {
            Ok(targets) => {
                let _ = self.record.update(|r| r.clear_failures(&w.repo));
                WatchOutcome::Replaced { digest, targets }
            }
            Err(reason) => {
                let n = self
                    .record
                    .update(|r| r.count_failure(&w.repo, &digest))
                    .unwrap_or(0);
                tracing::warn!(repo = %w.repo, %digest, failures = n, %reason, "update failed");
                WatchOutcome::Failed { digest, reason }
            }
        }
    }

    /// Replaces the stale targets one by one: rolling waits `rollingDelay` between them and
    /// stops at the first failure; otherwise every target is tried.
    async fn replace_targets(
        &self,
        w: &Watch,
        tag: &str,
        image: &str,
        digest: &str,
        stale: &[String],
    ) -> Result<Vec<String>, String> {
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for (i, target) in stale.iter().enumerate() {
            if i > 0 && w.rolling {
                tokio::time::sleep(w.rolling_delay()).await;
            }
            let previous = self
                .record
                .load()
                .ok()
                .and_then(|r| r.deployed.get(target).cloned());
            let (source, rollback) = if w.uses_tarball() {
                match self
                    .stage
                    .stage(target, image, digest, previous.as_deref())
                    .await
                {
                    Ok(staged) => (
                        Source::File(staged.tarball),
                        staged.previous.map(Source::File),
                    ),
                    Err(e) => {
                        errors.push(format!("{target}: staging {image}: {e}"));
                        if w.rolling {
                            break;
                        }
                        continue;
                    }
                }
            } else {
                (
                    Source::Remote(image.to_string()),
                    previous.map(|d| Source::Remote(self.pinned_ref(&w.repo, &d))),
                )
            };
            let swap = Swap {
                container: target.clone(),
                image: source,
                rollback,
                repo: w.repo.clone(),
                digest: digest.to_string(),
            };
            tracing::info!(container = %target, %image, %tag, "replacing");
            let seen = self.recently_seen(target);
            match replace::replace_from(&self.ros, &self.marks, &self.policy, swap, seen).await {
                Ok(_) => {
                    let _ = self.record.update(|r| {
                        r.deployed.insert(target.clone(), digest.to_string());
                    });
                    done.push(target.clone());
                }
                Err(e) => {
                    errors.push(format!("{target}: {e}"));
                    if w.rolling {
                        break;
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(done)
        } else {
            Err(errors.join("; "))
        }
    }
}
