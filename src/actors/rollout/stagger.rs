//! Staggered rollout of one image (images.md §4.4, L-12): its pods are recreated one at a
//! time, each through its own pod worker (L-4), and the next starts only once the previous
//! one is live (`liveness.rs`) within the bounded wait. A failure — the recreate failed or
//! the pod did not become live in time — halts the image's rollout: the pods not yet reached
//! keep their old container, and the halt is recorded as `PodCreateFailed` of the pod that
//! failed (its reason starts with `rollout of <image> halted`).

use super::liveness;
use crate::actors::device::DeviceLink;
use crate::actors::pods::state::PodsState;
use crate::actors::pods::{Kick, Kicked, PodsActor, RecordRolloutHalt, Recreate};
use crate::actors::published::Published;
use crate::config::Config;
use actix::prelude::*;
use std::time::{Duration, Instant};

/// How each pod is brought to the new image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Reconcile (§5 step 3c): the worker rebuilds because the registry digest moved.
    Kick,
    /// Redeploy (§4.5): rebuild even when the digest did not move.
    Recreate,
}

/// The outcome per pod reached, in order; pods after a halt are absent.
pub type Steps = Vec<(String, Result<(), String>)>;

#[derive(Clone)]
pub struct Roller {
    pub pods: Addr<PodsActor>,
    /// The pods fold as the pods actor publishes it.
    pub pods_view: Published<PodsState>,
    pub device: DeviceLink,
    pub live_timeout: Duration,
}

impl Roller {
    pub fn new(
        config: &Config,
        device: DeviceLink,
        pods: Addr<PodsActor>,
        pods_view: Published<PodsState>,
    ) -> Roller {
        let s = config.lifecycle.rollout_live_timeout_seconds;
        let secs = if s.is_finite() && s > 0.0 { s } else { 120.0 };
        Roller {
            pods,
            pods_view,
            device,
            live_timeout: Duration::from_secs_f64(secs.min(86_400.0)),
        }
    }

    /// Rolls `keys` (in order) onto `image`; `after_each` runs once a pod's step ended.
    pub async fn roll(
        &self,
        image: &str,
        keys: &[String],
        how: How,
        mut after_each: impl FnMut(&str),
    ) -> Steps {
        let mut out = Steps::new();
        for key in keys {
            let result = self.step(key, how).await;
            after_each(key);
            let failed = result.as_ref().err().cloned();
            out.push((key.clone(), result));
            if let Some(reason) = failed {
                self.halted(image, key, &reason, keys.len() - out.len())
                    .await;
                break;
            }
        }
        out
    }

    async fn step(&self, key: &str, how: How) -> Result<(), String> {
        // A busy worker (a user change, a crash recovery) finishes first; then this step's
        // own run decides with the newest state.
        let busy_until = Instant::now() + self.live_timeout;
        let kicked = loop {
            let sent = match how {
                How::Kick => {
                    self.pods
                        .send(Kick {
                            key: key.to_string(),
                            force: false,
                        })
                        .await
                }
                How::Recreate => {
                    self.pods
                        .send(Recreate {
                            key: key.to_string(),
                        })
                        .await
                }
            };
            match sent.map_err(|e| format!("pods actor: {e}"))? {
                Kicked::Busy if Instant::now() < busy_until => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => break other,
            }
        };
        match kicked {
            Kicked::Done(Ok(())) => {}
            Kicked::Done(Err(e)) => return Err(format!("recreate failed: {e}")),
            Kicked::Busy => return Err("the pod's worker stayed busy".into()),
            Kicked::BackingOff => return Err("the pod backs off after a failed create".into()),
            Kicked::NoEngine => return Err("no device engine".into()),
        }
        let deadline = Instant::now() + self.live_timeout;
        liveness::wait(&self.pods, &self.device, key, deadline).await
    }

    async fn halted(&self, image: &str, key: &str, reason: &str, left: usize) {
        tracing::warn!(%image, pod = %key, %reason, left, "ROLLOUT: halted");
        let halt = RecordRolloutHalt {
            key: key.to_string(),
            image: image.to_string(),
            left,
            reason: reason.to_string(),
            correlation: format!("rollout/{image}"),
        };
        match self.pods.send(halt).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "ROLLOUT: recording the halt failed"),
            Err(e) => tracing::warn!(error = %e, "ROLLOUT: recording the halt failed"),
        }
    }
}
