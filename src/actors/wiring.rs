//! The one place that connects the log, replays it, and starts the actors in order.

use super::configmaps::ConfigMapsActor;
use super::configmaps::state::ConfigMapsState;
use super::consistency::{ConsistencyActor, Deps as ConsistencyDeps};
use super::device::DeviceLink;
use super::dns::DnsActor;
use super::images::ImagesActor;
use super::ipam::IpamActor;
use super::ipam::state::IpamState;
use super::journal::Journal;
use super::lifecycle::LifecycleActor;
use super::pods::PodsActor;
use super::pods::settled::Listeners;
use super::pods::state::PodsState;
use super::pods::worker::WorkerDeps;
use super::published::Published;
use super::reconcile::ReconcileActor;
use super::replay::boot_replay;
use super::rollout::RolloutActor;
use super::rollout::stagger::Roller;
use super::snapshotter::Snapshotter;
use super::veths::VethsActor;
use crate::config::Config;
use crate::events::log::{EventLog, LogError, LogSettings};
use crate::events::snapshot::SnapshotStore;
use crate::metrics::Metrics;
use actix::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Logs `BOOT: <phase>` with the phase's and the total milliseconds since process start.
pub struct BootClock {
    start: Instant,
    last: Mutex<Instant>,
}

impl Default for BootClock {
    fn default() -> Self {
        let now = Instant::now();
        BootClock {
            start: now,
            last: Mutex::new(now),
        }
    }
}

impl BootClock {
    pub fn phase(&self, phase: &str) {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let phase_ms = now.duration_since(*last).as_millis() as u64;
        let total_ms = now.duration_since(self.start).as_millis() as u64;
        *last = now;
        tracing::info!(phase_ms, total_ms, "BOOT: {phase}");
    }
}

/// The running system: the log and every actor's address.
#[derive(Clone)]
pub struct Cluster {
    pub log: EventLog,
    pub pods: Addr<PodsActor>,
    pub ipam: Addr<IpamActor>,
    pub veths: Addr<VethsActor>,
    pub dns: Addr<DnsActor>,
    pub images: Addr<ImagesActor>,
    pub consistency: Addr<ConsistencyActor>,
    pub configmaps: Addr<ConfigMapsActor>,
    pub snapshotter: Snapshotter,
    /// The device client when it answered at boot (standalone mode only); the engine keeps
    /// retrying through its own link when it did not.
    pub routeros: Option<crate::routeros::RosClient>,
    /// The reconcile loop (standalone mode only).
    pub reconcile: Option<Addr<ReconcileActor>>,
    /// The lifecycle watchdog and probes (§7, standalone mode only).
    pub lifecycle: Option<Addr<LifecycleActor>>,
    /// What the reconcile pass and the watchdog last saw of the device (pod status, §3.6).
    pub observations: super::observations::Observations,
    /// Image rollouts and redeploys (standalone mode only, images.md §4.4–4.5).
    pub rollout: Option<Addr<RolloutActor>>,
    /// The pods, IPAM and ConfigMaps folds as readers see them (`published.rs`).
    pub pods_published: Published<PodsState>,
    pub ipam_published: Published<IpamState>,
    pub configmaps_published: Published<ConfigMapsState>,
    /// This controller's Node and the fleet's (issue 16).
    pub nodes: super::nodes::NodeDirectory,
}

pub fn log_settings(config: &Config) -> LogSettings {
    LogSettings {
        url: config.nats.url.clone(),
        stream: config.nats.stream.clone(),
        node: config.node_name.clone(),
        replicas: config.nats.replicas.unwrap_or(0),
    }
}

/// `storage.gc*` (images.md §3.12); an interval of 0 minutes disables the collector.
pub fn gc_schedule(config: &Config) -> super::reconcile::image_gc::GcSchedule {
    super::reconcile::image_gc::GcSchedule {
        interval: std::time::Duration::from_secs(config.storage.gc_interval_minutes * 60),
        keep_last_n: config.storage.gc_keep_last_n,
        dry_run: config.storage.gc_dry_run,
    }
}

/// Connect, replay (snapshot + tail, `apply` only), then start the actors with their slices.
/// Must run inside an actix system.
pub async fn boot(
    config: &Config,
    metrics: Metrics,
    clock: &BootClock,
) -> Result<Cluster, LogError> {
    let log = EventLog::connect(log_settings(config), metrics.clone()).await?;
    log.wait_ready().await;
    clock.phase("NATS connected");

    let snapshots = SnapshotStore::open(&log).await?;
    let replayed = boot_replay(&log, &snapshots).await?;
    metrics.set_replay(replayed.duration, replayed.fold.folded);
    if let Some(seq) = replayed.snapshot_seq {
        metrics.snapshot_at(chrono::Utc::now().timestamp(), false);
        tracing::info!(snapshot_seq = seq, "replayed from snapshot");
    }
    for e in &replayed.fold.undecodable {
        metrics.count_undecodable();
        tracing::error!(seq = e.seq, reason = %e.reason, "undecodable event skipped during replay");
    }
    tracing::info!(
        events = replayed.fold.folded,
        last_seq = replayed.target,
        ms = replayed.duration.as_millis() as u64,
        "replay complete"
    );
    clock.phase("replay complete");

    let fold = replayed.fold;
    let seqs = &fold.subject_seqs;
    let state = fold.state.clone();
    let journal = |name, areas| Journal::new(log.clone(), name, areas, seqs);
    // Order: what others ask first. Pods will ask ipam, veths, dns and images.
    let ipam = IpamActor::new(
        journal(IpamActor::NAME, IpamActor::AREAS),
        state.ipam,
        config,
    );
    let ipam_published = ipam.published();
    let ipam = ipam.start();
    // The device engine runs in standalone mode (§5); otherwise the actors only record.
    let engine = config.standalone;
    let routeros = if engine {
        connect_device(config, &metrics).await
    } else {
        None
    };
    let device = DeviceLink::with_client(config, routeros.clone(), metrics.clone());
    let device_for_nodes = device.clone();
    let secs =
        |v: f64, d: f64| Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v } else { d });
    let collect = engine.then(|| {
        let lc = &config.lifecycle;
        (
            secs(lc.dangling_ports_after_seconds, 90.0),
            secs(lc.dangling_ports_every_seconds, 3600.0),
        )
    });
    let veths = VethsActor::with_device(
        journal(VethsActor::NAME, VethsActor::AREAS),
        state.veths,
        device.clone(),
        collect,
    )
    .start();
    let mut dns = DnsActor::new(journal(DnsActor::NAME, DnsActor::AREAS), state.dns);
    match crate::microdns::MicrodnsClient::new() {
        Ok(client) => {
            let client = client
                .with_api_keys(config.microdns_api_keys())
                .with_metrics(metrics.clone());
            dns = dns.with_client(Arc::new(config.clone()), client)
        }
        Err(e) => tracing::error!(error = %e, "no microdns client; DNS records are not maintained"),
    }
    let dns = dns.start();
    let images = ImagesActor::new(
        journal(ImagesActor::NAME, ImagesActor::AREAS),
        state.images,
        config,
    )
    .with_metrics(metrics.clone())
    .start();
    let configmaps = ConfigMapsActor::new(
        journal(ConfigMapsActor::NAME, ConfigMapsActor::AREAS),
        state.configmaps,
    );
    let configmaps_published = configmaps.published();
    let configmaps = configmaps.start();
    let config_arc = Arc::new(config.clone());
    // The checker hears of every settled pod job; it starts below, once it can ask the pods
    // actor, so its address exists first (messages wait in its mailbox).
    let consistency_ctx = Context::<ConsistencyActor>::new();
    let settled = Listeners(vec![
        dns.clone().recipient(),
        consistency_ctx.address().recipient(),
    ])
    .start();
    let mut pods = PodsActor::new(journal(PodsActor::NAME, PodsActor::AREAS), state.pods);
    let pods_published = pods.published();
    if engine {
        pods = pods.with_engine(WorkerDeps {
            config: config_arc.clone(),
            device: device.clone(),
            ipam: ipam.clone(),
            ipam_view: ipam_published.clone(),
            pods_view: pods_published.clone(),
            veths: veths.clone(),
            images: images.clone(),
            configmaps: configmaps.clone(),
            configmaps_view: configmaps_published.clone(),
            settled: Some(settled.recipient()),
        });
    }
    let pods = pods.start();
    // §7: the watchdog starts after replay, like reconcile (L-1).
    let observations = super::observations::Observations::new(&config.node_name);
    let lifecycle = engine.then(|| {
        LifecycleActor::new(
            config,
            device.clone(),
            pods.clone(),
            pods_published.clone(),
            observations.clone(),
        )
        .with_metrics(metrics.clone())
        .start()
    });
    let rollout = engine.then(|| {
        let roller = Roller::new(config, device.clone(), pods.clone(), pods_published.clone());
        RolloutActor::new(roller, images.clone()).start()
    });
    // §6: the checker, after replay reached the stream's last sequence (L-1 (a)).
    let consistency = consistency_ctx.run(ConsistencyActor::new(
        journal(ConsistencyActor::NAME, ConsistencyActor::AREAS),
        state.consistency,
        ConsistencyDeps {
            config: config_arc.clone(),
            device: engine.then(|| device.clone()),
            pods: pods.clone(),
            pods_view: pods_published.clone(),
            ipam: ipam.clone(),
            ipam_view: ipam_published.clone(),
            dns: dns.clone(),
            veths: veths.clone(),
            rollout: rollout.clone(),
            metrics: Some(metrics.clone()),
        },
    ));
    let outputs = super::reconcile::outputs::Outputs {
        dns: dns.clone(),
        configmaps: configmaps.clone(),
    };
    // Reconcile starts only now, after replay (L-1).
    let reconcile = rollout.clone().map(|rollout| {
        let r = ReconcileActor::new(
            config_arc,
            device,
            pods.clone(),
            pods_published.clone(),
            ipam.clone(),
            ipam_published.clone(),
            images.clone(),
        )
        .with_rollout(rollout)
        .with_outputs(outputs.clone())
        .with_observations(observations.clone())
        .with_listener(consistency.clone().recipient())
        .with_metrics(metrics.clone())
        .start();
        // §5: a push runs a pass at once.
        images.do_send(super::images::SubscribePushes(r.clone().recipient()));
        // DNS-1 at boot: zones found or created and names restored without waiting a whole
        // reconcile interval.
        let (pods, pods_view) = (pods.clone(), pods_published.clone());
        actix::spawn(async move {
            super::reconcile::outputs::dns(&pods, &pods_view, &outputs, "boot").await;
        });
        r
    });
    let snapshotter = Snapshotter::spawn(
        log.clone(),
        snapshots,
        fold,
        config.nats.snapshot_every,
        metrics,
    );
    super::reconcile::image_gc::spawn(
        images.clone(),
        pods.clone(),
        pods_published.clone(),
        gc_schedule(config),
    );
    let nodes = super::nodes::Heartbeat {
        name: config.node_name.clone(),
        device_host: super::nodes::device_host(&config.routeros.rest_url),
        started: chrono::Utc::now(),
        device: device_for_nodes,
        observations: observations.clone(),
        log: log.clone(),
    }
    .start()
    .await;
    clock.phase("actors started");
    Ok(Cluster {
        log,
        pods,
        ipam,
        veths,
        dns,
        images,
        consistency,
        configmaps,
        snapshotter,
        routeros,
        reconcile,
        lifecycle,
        observations,
        rollout,
        pods_published,
        ipam_published,
        configmaps_published,
        nodes,
    })
}

/// One short connection attempt: an unreachable device must not hold up boot.
async fn connect_device(config: &Config, metrics: &Metrics) -> Option<crate::routeros::RosClient> {
    let link = DeviceLink::new(config).with_metrics(metrics.clone());
    match tokio::time::timeout(Duration::from_secs(5), link.try_connect()).await {
        Ok(client) => client,
        Err(_) => {
            tracing::warn!("RouterOS device did not answer within 5 s; reconcile retries");
            None
        }
    }
}
