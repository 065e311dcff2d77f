//! Process metrics, rendered in Prometheus text format by `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    events_appended: Counter,
    append_latency: Histogram,
    replay_duration: Gauge<f64, std::sync::atomic::AtomicU64>,
    replayed_events: Gauge,
    undecodable_events: Counter,
    snapshot_age: Gauge,
    snapshots_written: Counter,
    nats_connected: Gauge,
    /// Unix seconds of the newest snapshot; 0 = none yet.
    last_snapshot_unix: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mkube");
        let events_appended = Counter::default();
        let append_latency = Histogram::new([
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0,
        ]);
        let replay_duration = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let replayed_events = Gauge::default();
        let undecodable_events = Counter::default();
        let snapshot_age = Gauge::default();
        let snapshots_written = Counter::default();
        let nats_connected = Gauge::default();
        registry.register(
            "events_appended",
            "Events appended to the log",
            events_appended.clone(),
        );
        registry.register(
            "append_latency_seconds",
            "Time from append to the server's durable acknowledgement",
            append_latency.clone(),
        );
        registry.register(
            "replay_duration_seconds",
            "How long the boot replay took",
            replay_duration.clone(),
        );
        registry.register(
            "replayed_events",
            "Events folded by the boot replay",
            replayed_events.clone(),
        );
        registry.register(
            "undecodable_events",
            "Records skipped because they could not be decoded",
            undecodable_events.clone(),
        );
        registry.register(
            "snapshot_age_seconds",
            "Seconds since the newest snapshot was written or loaded (-1 = none)",
            snapshot_age.clone(),
        );
        registry.register(
            "snapshots_written",
            "Snapshots written",
            snapshots_written.clone(),
        );
        registry.register(
            "nats_connected",
            "1 when connected to NATS",
            nats_connected.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                events_appended,
                append_latency,
                replay_duration,
                replayed_events,
                undecodable_events,
                snapshot_age,
                snapshots_written,
                nats_connected,
                last_snapshot_unix: AtomicI64::new(0),
            }),
        }
    }

    pub fn observe_append(&self, latency: Duration) {
        self.inner.events_appended.inc();
        self.inner.append_latency.observe(latency.as_secs_f64());
    }

    pub fn set_replay(&self, duration: Duration, events: u64) {
        self.inner.replay_duration.set(duration.as_secs_f64());
        self.inner.replayed_events.set(events as i64);
    }

    pub fn count_undecodable(&self) {
        self.inner.undecodable_events.inc();
    }

    pub fn snapshot_at(&self, unix_seconds: i64, written: bool) {
        self.inner
            .last_snapshot_unix
            .store(unix_seconds, Ordering::Relaxed);
        if written {
            self.inner.snapshots_written.inc();
        }
    }

    pub fn set_nats_connected(&self, connected: bool) {
        self.inner.nats_connected.set(connected as i64);
    }

    pub fn render(&self) -> String {
        let last = self.inner.last_snapshot_unix.load(Ordering::Relaxed);
        let age = if last == 0 {
            -1
        } else {
            chrono::Utc::now().timestamp() - last
        };
        self.inner.snapshot_age.set(age);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}
