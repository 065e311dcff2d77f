//! The reconcile loop (§5, standalone mode): seeds boot-order pods (DS-2), then every
//! `lifecycle.reconcileIntervalSeconds` (and on `RunPass`) reads each device table once and
//! runs the workers of the pods that need work, one after another in boot order (§7.4).
//! Passes run one at a time (L-3). It is started after replay, so it never decides on a
//! half-loaded desired state (L-1); it deletes nothing itself — teardown is only for pods
//! whose deletion was recorded, and only of objects whose creation was recorded (L-2).
//! `auto` pods whose registry digest moved are rolled per image, one live pod at a time
//! (images.md §4.4, L-12, `rollout::stagger`), so a long rollout holds the next pass back;
//! pods being redeployed (§4.5) are skipped by every step.

pub mod coalesce;
pub mod decide;
pub mod halts;
pub mod image_gc;
pub mod ipam_sync;
pub mod outputs;

use super::device::DeviceLink;
use super::images::{ImagesActor, Pushed, RefreshImage};
use super::ipam::IpamActor;
use super::ipam::state::IpamState;
use super::pods::state::PodsState;
use super::pods::{DeviceObserved, Kick, Kicked, PodsActor, Runnable, Seed};
use super::published::Published;
use super::rollout::stagger::{How, Roller};
use super::rollout::{Redeploying, RolloutActor};
use crate::config::{Config, Manifest, load_manifest};
use crate::metrics::Metrics;
use crate::pod::annotations;
use crate::routeros::{Observation, SnapshotOptions};
use actix::prelude::*;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ReconcileActor {
    config: Arc<Config>,
    device: DeviceLink,
    pods: Addr<PodsActor>,
    /// The pods fold as the pods actor publishes it (shared, not copied).
    pods_view: Published<PodsState>,
    ipam: Addr<IpamActor>,
    ipam_view: Published<IpamState>,
    images: Addr<ImagesActor>,
    pushes: coalesce::Coalescer,
    roller: Roller,
    /// Knows the pods being redeployed, which every step of the pass skips (§4.5).
    rollout: Option<Addr<RolloutActor>>,
    outputs: Option<outputs::Outputs>,
    halts: halts::Halts,
    /// Where each pass's container listing goes (pod status, §3.6).
    observations: Option<super::observations::Observations>,
    /// Told when a pass ends (§5 step 8: the consistency checker's repair pass follows).
    listener: Option<Recipient<Reconciled>>,
    /// Pass and step durations (`/metrics`).
    metrics: Option<Metrics>,
    /// When the last pass ended (the interval's ticks after a long pass, `Tick`).
    last_pass_end: Option<Instant>,
}

impl ReconcileActor {
    pub fn new(
        config: Arc<Config>,
        device: DeviceLink,
        pods: Addr<PodsActor>,
        pods_view: Published<PodsState>,
        ipam: Addr<IpamActor>,
        ipam_view: Published<IpamState>,
        images: Addr<ImagesActor>,
    ) -> Self {
        let roller = Roller::new(&config, device.clone(), pods.clone(), pods_view.clone());
        ReconcileActor {
            config,
            device,
            pods,
            pods_view,
            ipam,
            ipam_view,
            images,
            pushes: coalesce::Coalescer::default(),
            roller,
            rollout: None,
            outputs: None,
            halts: halts::Halts::default(),
            observations: None,
            listener: None,
            metrics: None,
            last_pass_end: None,
        }
    }

    /// Tell `listener` after every pass (§5 step 8).
    pub fn with_listener(mut self, listener: Recipient<Reconciled>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Record each pass's container listing for pod status (with `with_outputs`: the listing
    /// is recorded against the pods fold of the pass).
    pub fn with_observations(mut self, observations: super::observations::Observations) -> Self {
        self.observations = Some(observations);
        self
    }

    /// DS-6 ConfigMaps and the DNS zones (§5 steps 6–7) are part of every pass.
    pub fn with_outputs(mut self, outputs: outputs::Outputs) -> Self {
        self.outputs = Some(outputs);
        self
    }

    /// Time every pass and step into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Skip the pods `rollout` is redeploying (images.md §4.5).
    pub fn with_rollout(mut self, rollout: Addr<RolloutActor>) -> Self {
        self.rollout = Some(rollout);
        self
    }

    fn interval(&self) -> Duration {
        let s = self.config.lifecycle.reconcile_interval_seconds;
        Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 10.0 })
    }
}

impl Actor for ReconcileActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // §5: the first pass runs one interval after the loop starts.
        ctx.run_interval(self.interval(), |_, ctx| ctx.notify(Tick));
    }
}

/// The interval's tick. The ticks missed while a long pass ran (a restart's 37 rebuilds took
/// 25 s in the soak) all arrive as it ends; the first runs a pass, the rest find one ended
/// less than half an interval ago and ask for nothing (they ran 5 empty passes back to back).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
struct Tick;

impl Handler<Tick> for ReconcileActor {
    type Result = ();

    fn handle(&mut self, _: Tick, ctx: &mut Context<Self>) {
        if tick_runs_pass(self.last_pass_end, Instant::now(), self.interval()) {
            ctx.notify(RunPass);
        }
    }
}

/// Whether an interval tick at `now` runs a pass, the last one having ended at `last_end`.
fn tick_runs_pass(last_end: Option<Instant>, now: Instant, interval: Duration) -> bool {
    last_end.is_none_or(|at| now.saturating_duration_since(at) >= interval / 2)
}

/// Run one pass now (push notification, tests). Passes are serialised: a pass asked for
/// while one runs starts when it ends.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "PassReport")]
pub struct RunPass;

/// A reconcile pass ended (§5 step 8: the consistency checker schedules its repair pass).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Reconciled;

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Boot-order pods newly declared.
    pub seeded: Vec<String>,
    /// Pods whose worker ran, in order, with its outcome.
    pub ran: Vec<(String, Result<(), String>)>,
    /// Why the pass stopped early (device unreachable, listing failed).
    pub aborted: Option<String>,
    /// Generated and manifest ConfigMaps written (DS-6).
    pub config_maps_written: usize,
    /// The DNS step; it runs even when the device part was aborted.
    pub dns: Option<crate::actors::dns::DnsPassReport>,
}

/// §5: a push notification runs a pass at once (the images actor cleared the digests); a
/// burst of pushes is coalesced over 2 s (images.md §4.1).
impl Handler<Pushed> for ReconcileActor {
    type Result = ();

    fn handle(&mut self, msg: Pushed, ctx: &mut Context<Self>) {
        let now = std::time::Instant::now();
        match self.pushes.on_push(now) {
            coalesce::Action::RunNow => {
                tracing::info!(repository = %msg.repository, "push notified: reconciling now");
                ctx.notify(RunPass);
            }
            coalesce::Action::RunAt(at) => {
                tracing::info!(repository = %msg.repository, "push notified: coalescing");
                ctx.run_later(at.saturating_duration_since(now), |act, ctx| {
                    act.pushes.trailing_ran(std::time::Instant::now());
                    ctx.notify(RunPass);
                });
            }
            coalesce::Action::Coalesced => {
                tracing::debug!(repository = %msg.repository, "push coalesced");
            }
        }
    }
}

impl Handler<RunPass> for ReconcileActor {
    type Result = AtomicResponse<Self, PassReport>;

    fn handle(&mut self, _: RunPass, _: &mut Context<Self>) -> Self::Result {
        let pass = pass(Deps {
            config: self.config.clone(),
            device: self.device.clone(),
            pods: self.pods.clone(),
            pods_view: self.pods_view.clone(),
            ipam: self.ipam.clone(),
            ipam_view: self.ipam_view.clone(),
            images: self.images.clone(),
            roller: self.roller.clone(),
            rollout: self.rollout.clone(),
            outputs: self.outputs.clone(),
            halts: self.halts.clone(),
            observations: self.observations.clone(),
            metrics: self.metrics.clone(),
        });
        let listener = self.listener.clone();
        AtomicResponse::new(Box::pin(pass.into_actor(self).map(
            move |report, act, _| {
                act.last_pass_end = Some(Instant::now());
                if let Some(l) = listener {
                    l.do_send(Reconciled);
                }
                report
            },
        )))
    }
}

struct Deps {
    config: Arc<Config>,
    device: DeviceLink,
    pods: Addr<PodsActor>,
    pods_view: Published<PodsState>,
    ipam: Addr<IpamActor>,
    ipam_view: Published<IpamState>,
    images: Addr<ImagesActor>,
    roller: Roller,
    rollout: Option<Addr<RolloutActor>>,
    outputs: Option<outputs::Outputs>,
    halts: halts::Halts,
    observations: Option<super::observations::Observations>,
    metrics: Option<Metrics>,
}

/// DS-6 ConfigMaps first (the workers write their files), then the device steps, then DNS
/// (from the addresses the workers recorded). Every step logs `RECONCILE: step N <what>`
/// with its `ms` (seed line "Boot timing instrumentation"); the pass ends with
/// `RECONCILE: complete`, `total_ms` and `tracked_pods`.
async fn pass(deps: Deps) -> PassReport {
    let started = Instant::now();
    let (config, pods, out) = (deps.config.clone(), deps.pods.clone(), deps.outputs.clone());
    let pods_view = deps.pods_view.clone();
    let metrics = deps.metrics.clone();
    let step = Instant::now();
    let manifest = read_manifest(&config).unwrap_or_default();
    let written = match &out {
        Some(out) => outputs::config_maps(&config, manifest.config_maps, out).await,
        None => 0,
    };
    let took = step_ms(&metrics, "1", step);
    tracing::info!(
        ms = took,
        pods = manifest.pods.len(),
        config_maps_written = written,
        "RECONCILE: step 1 load manifests"
    );
    let mut report = device_steps(deps, manifest.pods).await;
    report.config_maps_written = written;
    if let Some(out) = &out {
        let step = Instant::now();
        report.dns = outputs::dns(&pods, &pods_view, out, "reconcile").await;
        if let Some(dns) = &report.dns {
            // One list per zone serves both steps, so they are one pass and one line.
            let took = step_ms(&metrics, "6-7", step);
            tracing::info!(
                ms = took,
                zones = dns.zones.len(),
                failed = dns.zones.iter().filter(|z| z.error.is_some()).count(),
                writes = dns.writes(),
                "RECONCILE: step 6-7 init DNS zones, reregister DNS"
            );
        }
    }
    let tracked_pods = match &out {
        Some(_) => pods_view
            .read(&pods)
            .await
            .map_or(0, |s| s.state.pods.len()),
        None => 0,
    };
    if let Some(m) = &metrics {
        m.observe_reconcile_pass(started.elapsed(), report.aborted.is_some());
    }
    tracing::info!(
        total_ms = ms(started),
        tracked_pods,
        ran = report.ran.len(),
        aborted = report.aborted.is_some(),
        "RECONCILE: complete"
    );
    report
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// A step that began at `since` ended: its time goes to `metrics` under `step` (the number
/// of its `RECONCILE: step N` line) and its milliseconds to the log line. Called before the
/// `tracing` macro, not inside it: a disabled level never evaluates the macro's fields.
fn step_ms(metrics: &Option<Metrics>, step: &'static str, since: Instant) -> u64 {
    let elapsed = since.elapsed();
    if let Some(m) = metrics {
        m.observe_reconcile_step(step, elapsed);
    }
    elapsed.as_millis() as u64
}

async fn device_steps(deps: Deps, manifest_pods: Vec<Pod>) -> PassReport {
    let Deps {
        config,
        device,
        pods,
        pods_view,
        ipam,
        ipam_view,
        images,
        roller,
        rollout,
        outputs,
        halts,
        observations,
        metrics,
    } = deps;
    let step = Instant::now();
    let mut report = PassReport {
        seeded: seed(manifest_pods, &pods).await,
        ..PassReport::default()
    };
    let took = step_ms(&metrics, "1b", step);
    tracing::info!(
        ms = took,
        seeded = report.seeded.len(),
        "RECONCILE: step 1b seed boot-order pods"
    );
    let step = Instant::now();
    // The fold before the listing: an observation is never older than what it is held
    // against (`observations`).
    let before = match &outputs {
        Some(_) => pods_view.read(&pods).await.ok(),
        None => None,
    };
    let record = |listing: Result<&[crate::routeros::Container], &str>| {
        if let (Some(obs), Some(before)) = (&observations, &before) {
            obs.record_listing(&before.state, &before.seqs, listing);
        }
    };
    let ros = match device.get().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "RECONCILE: device unreachable, pass skipped");
            record(Err(&e.to_string()));
            report.aborted = Some(e.to_string());
            return report;
        }
    };
    // One bulk read per table (DESIGN: observation is bulk): containers, veths, ports.
    let snapshot = match ros.snapshot(SnapshotOptions::default()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "RECONCILE: listing failed, pass aborted");
            record(Err(&e.to_string()));
            report.aborted = Some(e.to_string());
            return report;
        }
    };
    record(Ok(&snapshot.containers));
    let took = step_ms(&metrics, "2", step);
    tracing::info!(
        ms = took,
        count = snapshot.containers.len(),
        veths = snapshot.veths.len(),
        ports = snapshot.bridge_ports.len(),
        "RECONCILE: step 2 list containers"
    );
    let Ok(pods_now) = pods_view.read(&pods).await else {
        report.aborted = Some("actors stopped".into());
        return report;
    };
    let state = &pods_now.state;
    // Before step 3 (not after, as in §5): the workers allocate from what it learns.
    let step = Instant::now();
    if let Err(e) = ipam_sync::resync(&ipam, state, &config, &snapshot.veths).await {
        tracing::warn!(error = %e, "RECONCILE: IPAM resync failed");
    }
    let took = step_ms(&metrics, "4", step);
    tracing::info!(ms = took, "RECONCILE: step 4 IPAM resync");
    let Ok(ipam_now) = ipam_view.read(&ipam).await else {
        report.aborted = Some("actors stopped".into());
        return report;
    };
    // The workers of this pass (and those started until the next) decide from it: cold
    // creates need no per-object reads.
    let seen = Arc::new(Observation::of(&snapshot));
    let _ = pods.send(DeviceObserved { seen: seen.clone() }).await;
    // §4.5: pods being redeployed are skipped by every step (create-missing, repair, stale
    // image check) — their container is briefly missing on purpose.
    let redeploying = match &rollout {
        Some(r) => r.send(Redeploying).await.unwrap_or_default(),
        None => BTreeSet::new(),
    };
    let step = Instant::now();
    let keys: Vec<String> = decide::pods_needing_work(state, &ipam_now.state, &seen)
        .into_iter()
        .filter(|k| !redeploying.contains(k))
        .collect();
    let runnable = if keys.is_empty() {
        Vec::new()
    } else {
        pods.send(Runnable { keys: keys.clone() })
            .await
            .unwrap_or_default()
    };
    for key in runnable {
        let kicked = pods
            .send(Kick {
                key: key.clone(),
                force: false,
            })
            .await;
        if let Ok(Kicked::Done(result)) = kicked {
            report.ran.push((key, result));
        }
    }
    let took = step_ms(&metrics, "3", step);
    tracing::info!(
        ms = took,
        needing_work = keys.len(),
        ran = report.ran.len(),
        failed = report.ran.iter().filter(|(_, r)| r.is_err()).count(),
        "RECONCILE: step 3 create/track pods"
    );
    super::pods::configsync::reconcile_step(&pods).await; // §5 step 5
    // §5 step 3c, images.md §4.4 / L-12: pods whose image moved, staggered per image; a pod
    // that needed work for another reason was rebuilt above already.
    let step = Instant::now();
    let mut moved = 0;
    for (image, (digest, group)) in image_moves(state, &images).await {
        if halts.halted(&image, &digest) {
            tracing::debug!(%image, %digest, "rollout halted earlier for this digest; skipped");
            continue;
        }
        let group: Vec<String> = group
            .into_iter()
            .filter(|k| !redeploying.contains(k) && !keys.contains(k))
            .collect();
        if group.is_empty() {
            continue;
        }
        let group = pods
            .send(Runnable { keys: group })
            .await
            .unwrap_or_default();
        let steps = roller.roll(&image, &group, How::Kick, |_| {}).await;
        halts.ended(&image, &digest, steps.iter().any(|(_, r)| r.is_err()));
        moved += steps.len();
        report.ran.extend(steps);
    }
    let took = step_ms(&metrics, "3c", step);
    tracing::info!(ms = took, moved, "RECONCILE: step 3c image updates");
    report
}

/// §5 step 3c / IMG-2: created `image-policy: auto` pods whose registry digest moved away
/// from the one their container was built from, grouped by image (images.md §4.3: one digest
/// lookup per image per pass). A pod is grouped under its first moved image.
/// Each image maps to (its registry digest, the pods to move).
async fn image_moves(
    state: &PodsState,
    images: &Addr<ImagesActor>,
) -> BTreeMap<String, (String, Vec<String>)> {
    let mut digests: HashMap<String, Option<String>> = HashMap::new();
    let mut out: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for (key, p) in &state.pods {
        if !annotations::auto_update(&p.pod) {
            continue;
        }
        for c in p.pod.spec.iter().flat_map(|s| &s.containers) {
            let (Some(rec), Some(image)) = (p.containers.get(&c.name), c.image.as_ref()) else {
                continue;
            };
            if !rec.is_created() || rec.image_digest.is_empty() {
                continue;
            }
            if !digests.contains_key(image) {
                let refresh = RefreshImage {
                    reference: image.clone(),
                    correlation: format!("reconcile/{key}"),
                };
                let digest = match images.send(refresh).await {
                    Ok(Ok((img, _))) => Some(img.digest),
                    Ok(Err(e)) => {
                        tracing::debug!(pod = %key, error = %e, "image refresh failed");
                        None
                    }
                    Err(_) => None,
                };
                digests.insert(image.clone(), digest);
            }
            if let Some(d) = digests.get(image).and_then(|d| d.as_ref())
                && *d != rec.image_digest
            {
                out.entry(image.clone())
                    .or_insert_with(|| (d.clone(), Vec::new()))
                    .1
                    .push(key.clone());
                break;
            }
        }
    }
    out
}

/// The boot manifest (DS-2, DS-6). One that cannot be read seeds nothing (a failed read is
/// not an empty one, L-1).
fn read_manifest(config: &Config) -> Option<Manifest> {
    let path = config.lifecycle.boot_manifest_path.trim();
    if path.is_empty() || !Path::new(path).exists() {
        return None;
    }
    match load_manifest(Path::new(path)) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "boot manifest unreadable; nothing seeded");
            None
        }
    }
}

/// DS-2: declare every manifest pod not yet desired and not deleted through the API.
async fn seed(manifest_pods: Vec<Pod>, pods: &Addr<PodsActor>) -> Vec<String> {
    let mut seeded = Vec::new();
    for mut pod in manifest_pods {
        // A manifest pod gets the defaults an API-created one gets (issue 11 item 2).
        crate::pod::defaults::apply(&mut pod);
        let key = format!(
            "{}/{}",
            crate::pod::namespace_of(&pod.metadata),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        let msg = Seed {
            pod,
            correlation: format!("seed/{key}"),
        };
        match pods.send(msg).await {
            Ok(Ok(true)) => seeded.push(key),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(pod = %key, error = %e, "seeding failed"),
            Err(e) => tracing::warn!(pod = %key, error = %e, "seeding failed"),
        }
    }
    seeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_missed_during_a_long_pass_run_no_burst() {
        let interval = Duration::from_secs(5);
        let t0 = Instant::now();
        assert!(tick_runs_pass(None, t0, interval), "the first tick runs");
        // A pass ended just now: the burst of missed ticks asks for nothing.
        for ms in [0, 10, 2_499] {
            assert!(!tick_runs_pass(
                Some(t0),
                t0 + Duration::from_millis(ms),
                interval
            ));
        }
        // The regular tick after it runs.
        assert!(tick_runs_pass(
            Some(t0),
            t0 + Duration::from_millis(2_500),
            interval
        ));
        assert!(tick_runs_pass(Some(t0), t0 + interval, interval));
    }
}
