//! Self-update (images.md §5.2 step 3): a process cannot replace its own container, since
//! stopping the container ends the process half way. So mkube-update asks mkube's update API
//! (`POST <mkubeAPI>/api/v1/update-container`), and mkube does the swap; likewise mkube's API
//! hands a request for mkube's own container to mkube-update. Before asking, the updater writes
//! down what it asked (intent before effect); its successor settles it at start by reading the
//! device: a new row id means the swap happened, and a row made from the rollback reference
//! means it was rolled back.

use super::config::Watch;
use super::mark::Source;
use super::record::PendingSelf;
use super::updater::Updater;

impl Updater {
    pub(super) async fn self_update(
        &self,
        w: &Watch,
        image: &str,
        digest: &str,
        stale: &[String],
    ) -> Result<Vec<String>, String> {
        let mut done = Vec::new();
        for target in stale {
            let old = self
                .ros
                .find_container(target)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("container {target} not found"))?;
            let previous = self.record.load()?.deployed.get(target).cloned();
            let rollback = previous.map(|d| self.pinned_ref(&w.repo, &d));
            self.record.update(|r| {
                r.pending_self = Some(PendingSelf {
                    container: target.clone(),
                    repo: w.repo.clone(),
                    digest: digest.to_string(),
                    old_id: old.id.clone(),
                    rollback: rollback.clone(),
                })
            })?;
            let url = format!(
                "{}/api/v1/update-container",
                self.cfg.mkube_api.trim_end_matches('/')
            );
            let mut body = serde_json::json!({"name": target, "tag": image});
            if let Some(r) = &rollback {
                body["rollback"] = r.clone().into();
            }
            tracing::info!(container = %target, %image, %url, "asking mkube's update API");
            let answer = self.http.post(&url).json(&body).send().await;
            let answer = match answer {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        Ok(())
                    } else {
                        Err(format!("{url}: {status}: {text}"))
                    }
                }
                Err(e) => Err(format!("{url}: {e}")),
            };
            self.record.update(|r| {
                r.pending_self = None;
                if answer.is_ok() {
                    r.deployed.insert(target.clone(), digest.to_string());
                }
            })?;
            answer?;
            done.push(target.clone());
        }
        Ok(done)
    }

    /// At start: a self-update asked before this process began (its predecessor was stopped
    /// by the swap before it read the answer).
    pub(super) async fn settle_self_update(&self) {
        let Ok(record) = self.record.load() else {
            return;
        };
        let Some(p) = record.pending_self else {
            return;
        };
        let row = match self.ros.find_container(&p.container).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "pending self-update not settled yet");
                return;
            }
        };
        let outcome = match &row {
            Some(r) if r.id == p.old_id => "not replaced",
            Some(r)
                if p.rollback
                    .as_ref()
                    .is_some_and(|rb| Source::Remote(rb.clone()).made(r)) =>
            {
                "rolled back"
            }
            Some(_) => "replaced",
            None => "container missing",
        };
        tracing::info!(container = %p.container, digest = %p.digest, outcome, "pending self-update settled");
        let _ = self.record.update(|r| {
            r.pending_self = None;
            match outcome {
                "replaced" => {
                    r.deployed.insert(p.container.clone(), p.digest.clone());
                    r.clear_failures(&p.repo);
                }
                "rolled back" => {
                    r.count_failure(&p.repo, &p.digest);
                }
                _ => {}
            }
        });
    }
}
