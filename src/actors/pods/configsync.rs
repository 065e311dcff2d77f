//! §5 step 5 "ConfigMaps to disk" and the ConfigMap POST/PUT/PATCH trigger (§9): compare
//! every created pod's ConfigMap volume files (NAME-6) and environment (the digest recorded
//! with each container, `pod::env::digest`) with the ConfigMaps; a pod whose files or env
//! differ is rebuilt like an update (§3.3: veth and address kept, the container recreated),
//! unless one of its images is not available in the registry (one digest lookup each,
//! skipped for `vkube.io/file`): then it is left for the next pass.
//!
//! [D] Kubernetes never restarts a container for a changed env ConfigMap; mkube rebuilds, as it
//! does for ConfigMap files, so a site reconfigured through a ConfigMap takes effect. An env
//! that no longer resolves (its ConfigMap deleted) leaves the running container alone.
//! A ConfigMap change also re-runs at once every pod waiting for its configuration
//! (`CreateContainerConfigError`), instead of after its create back-off.
//!
//! [D] The files are written by the rebuild (the worker's §3.1 step 3), not ahead of it: a
//! pod skipped because its image is unavailable still differs on the next pass, and a crash
//! after the recorded update resumes as an unfinished update. So a controller restart with
//! files already matching recreates nothing.

use super::configfiles;
use super::{PodsActor, Update};
use crate::actors::configmaps::ConfigMapsActor;
use crate::actors::configmaps::state::ConfigMapsState;
use crate::actors::images::RefreshImage;
use crate::actors::published::Published;
use crate::config::Config;
use crate::pod::DesiredPod;
use crate::pod::annotations;
use actix::prelude::*;
use k8s_openapi::api::core::v1::Pod;

/// Runs one sync; answers the pod keys whose rebuild was recorded. A sync asked for while one
/// runs is run once more after it (and answers empty).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Vec<String>")]
pub struct SyncConfigFiles {
    /// `reconcile`, `configmap/<ns>/<name>`, … (log correlation).
    pub trigger: String,
}

/// Single flight for syncs: two overlapping syncs would rebuild a pod twice.
#[derive(Debug, Default)]
pub struct SyncGate {
    running: bool,
    again: bool,
}

impl Handler<SyncConfigFiles> for PodsActor {
    type Result = ResponseActFuture<Self, Vec<String>>;

    fn handle(&mut self, msg: SyncConfigFiles, ctx: &mut Context<Self>) -> Self::Result {
        let Some(engine) = self.engine.as_mut() else {
            return Box::pin(fut::ready(Vec::new()));
        };
        if engine.config_sync.running {
            engine.config_sync.again = true;
            return Box::pin(fut::ready(Vec::new()));
        }
        if msg.trigger.starts_with("configmap/") {
            for (key, _) in self
                .state
                .pods
                .iter()
                .filter(|(_, p)| p.failure_reason == super::CONFIG_ERROR)
            {
                ctx.notify(super::Kick {
                    key: key.clone(),
                    force: true,
                });
            }
        }
        let candidates: Vec<(String, DesiredPod)> = self
            .state
            .pods
            .iter()
            .filter(|(k, p)| !engine.is_busy(k) && settled(p) && reads_config_maps(&p.pod))
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect();
        if candidates.is_empty() {
            return Box::pin(fut::ready(Vec::new()));
        }
        engine.config_sync.running = true;
        let deps = engine.deps.clone();
        let run = run(
            deps.config.clone(),
            deps.configmaps.clone(),
            deps.configmaps_view.clone(),
            deps.images.clone(),
            ctx.address(),
            candidates,
            msg.trigger,
        );
        Box::pin(run.into_actor(self).map(|keys, act, ctx| {
            if let Some(engine) = act.engine.as_mut() {
                engine.config_sync.running = false;
                if std::mem::take(&mut engine.config_sync.again) {
                    ctx.notify(SyncConfigFiles {
                        trigger: "again".into(),
                    });
                }
            }
            keys
        }))
    }
}

/// Every container created from the current spec revision: nothing pending for the worker.
fn settled(p: &DesiredPod) -> bool {
    let spec = p.pod.spec.iter().flat_map(|s| &s.containers);
    let mut any = false;
    for c in spec {
        any = true;
        match p.containers.get(&c.name) {
            Some(r) if r.phase().is_built() && r.revision == p.revision => {}
            _ => return false,
        }
    }
    any
}

/// Mounts a ConfigMap volume or has an environment (whose digest is compared).
fn reads_config_maps(pod: &Pod) -> bool {
    pod.spec.iter().flat_map(|s| &s.containers).any(|c| {
        !configfiles::config_map_mounts(pod, c).is_empty()
            || c.env.as_ref().is_some_and(|e| !e.is_empty())
            || c.env_from.as_ref().is_some_and(|e| !e.is_empty())
    })
}

/// Whether a created container's environment now resolves to another digest than the one it
/// was built with. A resolution error keeps the container as it is.
fn env_differs(config: &Config, state: &ConfigMapsState, key: &str, p: &DesiredPod) -> bool {
    let Ok(net) = crate::pod::network_of(&p.pod, &config.networks) else {
        return false;
    };
    p.pod.spec.iter().flat_map(|s| &s.containers).any(|c| {
        let Some(rec) = p.containers.get(&c.name) else {
            return false;
        };
        let ip = rec.ip.parse().ok();
        match super::worker::env::resolve(&config.node_name, &p.pod, c, state, net, ip) {
            Ok(env) => crate::pod::env::digest(&env) != rec.env_digest,
            Err(e) => {
                tracing::warn!(pod = %key, error = %e, "environment no longer resolves; the running container is kept");
                false
            }
        }
    })
}

async fn run(
    config: std::sync::Arc<Config>,
    configmaps: Addr<ConfigMapsActor>,
    view: Published<ConfigMapsState>,
    images: Addr<crate::actors::images::ImagesActor>,
    pods: Addr<PodsActor>,
    candidates: Vec<(String, DesiredPod)>,
    trigger: String,
) -> Vec<String> {
    let Ok(snapshot) = view.read(&configmaps).await else {
        return Vec::new();
    };
    let state = snapshot.state;
    let marked = tokio::task::spawn_blocking(move || {
        candidates
            .into_iter()
            .filter(|(key, p)| {
                configfiles::pod_differs(&config.storage, &state, &p.pod)
                    || env_differs(&config, &state, key, p)
            })
            .map(|(key, p)| (key, p.pod))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut rebuilt = Vec::new();
    for (key, pod) in marked {
        if annotations::file(&pod).is_none() && !images_available(&images, &key, &pod).await {
            continue;
        }
        tracing::info!(pod = %key, %trigger, "ConfigMap files or environment changed: rebuilding the pod");
        let update = Update {
            pod,
            correlation: format!("configmaps/{trigger}/{key}"),
        };
        match pods.send(update).await {
            Ok(Ok(_)) => rebuilt.push(key),
            Ok(Err(e)) => tracing::warn!(pod = %key, error = %e, "recording the rebuild failed"),
            Err(e) => tracing::warn!(pod = %key, error = %e, "pods actor unavailable"),
        }
    }
    rebuilt
}

/// One registry digest lookup per image (IMG-2); any failure leaves the pod for next pass.
async fn images_available(
    images: &Addr<crate::actors::images::ImagesActor>,
    key: &str,
    pod: &Pod,
) -> bool {
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        let Some(image) = c.image.clone().filter(|i| !i.is_empty()) else {
            tracing::warn!(pod = %key, container = %c.name, "no image: ConfigMap change not applied");
            return false;
        };
        let refresh = RefreshImage {
            reference: image.clone(),
            correlation: format!("configmaps/{key}"),
        };
        match images.send(refresh).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(pod = %key, %image, error = %e, "image not available: ConfigMap change applied on a later pass");
                return false;
            }
            Err(e) => {
                tracing::warn!(pod = %key, error = %e, "images actor unavailable");
                return false;
            }
        }
    }
    true
}

/// §5 step 5 inside a reconcile pass (logs `step 5 sync configmaps`).
pub async fn reconcile_step(pods: &Addr<PodsActor>) -> Vec<String> {
    let started = std::time::Instant::now();
    let msg = SyncConfigFiles {
        trigger: "reconcile".into(),
    };
    let rebuilt = pods.send(msg).await.unwrap_or_default();
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        rebuilt = rebuilt.len(),
        "RECONCILE: step 5 sync configmaps"
    );
    rebuilt
}
