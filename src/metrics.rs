//! Process metrics, rendered in Prometheus text format by `/metrics`.
//!
//! The one home of every metric name: other modules call the typed methods below and never
//! name a metric themselves. Every label takes values from a small fixed set (outcomes,
//! step names, operations) or from a normalised form (RouterOS paths without ids), so the
//! number of series stays bounded however many pods or objects there are.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The pod phases `mkube_pods` always shows, so a phase with no pods reads 0, not absent.
pub const POD_PHASES: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
/// The microdns writes counted (`operation` label).
pub const DNS_WRITES: [&str; 3] = ["create_zone", "create_record", "delete_record"];
/// What the consistency checker reaps (`resource` label).
pub const REAPED_RESOURCES: [&str; 3] = ["container", "veth", "allocation"];
/// Why a consistency pass stopped (`reason` label).
pub const STOP_REASONS: [&str; 3] = ["refused", "skipped", "deadline"];
/// Why the lifecycle unit restarted a container (`cause` label): a keepalive start of a
/// stopped container (LC-3) or a stop and start after a failing probe (LC-6).
pub const RESTART_CAUSES: [&str; 2] = ["keepalive", "probe"];
/// Outcomes of pulls and builds.
const OUTCOMES: [&str; 2] = ["ok", "error"];

/// The exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 (`# EOF`, counters typed under their base name): what Prometheus asks
    /// for first.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4: for every other client.
    Text,
}

impl Format {
    /// OpenMetrics when `accept` names it, else the classic text, whatever else `accept` says
    /// (absent, another type or malformed).
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    method: &'static str,
    path: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    method: &'static str,
    path: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// Buckets for things that take milliseconds to a minute (passes, steps, device calls).
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    ])
}

/// Buckets for tarball builds, which take seconds to minutes.
fn build_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ])
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
    reconcile_pass: Histogram,
    reconcile_aborted: Counter,
    reconcile_step: Family<StepLabels, Histogram>,
    routeros_calls: Family<CallLabels, Counter>,
    routeros_latency: Family<EndpointLabels, Histogram>,
    dns_writes: Family<OperationLabels, Counter>,
    dns_write_failures: Family<OperationLabels, Counter>,
    image_pulls: Family<OutcomeLabels, Counter>,
    tarball_builds: Family<OutcomeLabels, Counter>,
    tarball_build_time: Histogram,
    pods: Family<PhaseLabels, Gauge>,
    container_restarts: Family<CauseLabels, Counter>,
    consistency_reaps: Family<ResourceLabels, Counter>,
    network_repairs: Counter,
    consistency_stopped: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mkube");
        let inner = Inner {
            events_appended: Counter::default(),
            append_latency: Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0,
            ]),
            replay_duration: Gauge::default(),
            replayed_events: Gauge::default(),
            undecodable_events: Counter::default(),
            snapshot_age: Gauge::default(),
            snapshots_written: Counter::default(),
            nats_connected: Gauge::default(),
            last_snapshot_unix: AtomicI64::new(0),
            reconcile_pass: latency_histogram(),
            reconcile_aborted: Counter::default(),
            reconcile_step: Family::new_with_constructor(latency_histogram),
            routeros_calls: Family::default(),
            routeros_latency: Family::new_with_constructor(latency_histogram),
            dns_writes: Family::default(),
            dns_write_failures: Family::default(),
            image_pulls: Family::default(),
            tarball_builds: Family::default(),
            tarball_build_time: build_histogram(),
            pods: Family::default(),
            container_restarts: Family::default(),
            consistency_reaps: Family::default(),
            network_repairs: Counter::default(),
            consistency_stopped: Family::default(),
            // Filled below: the registry holds clones of the metrics above, which share
            // their values with them.
            registry: Registry::default(),
        };
        register_log(&mut registry, &inner);
        register_engine(&mut registry, &inner);
        let inner = Inner { registry, ..inner };
        show_known_series(&inner);
        Metrics {
            inner: Arc::new(inner),
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

    /// One reconcile pass ended; `aborted` when it stopped early (device unreachable, …).
    pub fn observe_reconcile_pass(&self, duration: Duration, aborted: bool) {
        self.inner.reconcile_pass.observe(duration.as_secs_f64());
        if aborted {
            self.inner.reconcile_aborted.inc();
        }
    }

    /// One step of a reconcile pass ended (`step` as the `RECONCILE: step N` log line names it).
    pub fn observe_reconcile_step(&self, step: &'static str, duration: Duration) {
        self.inner
            .reconcile_step
            .get_or_create(&StepLabels { step })
            .observe(duration.as_secs_f64());
    }

    /// One RouterOS REST call. `path` must already be normalised (no ids or names).
    pub fn observe_routeros_call(
        &self,
        method: &'static str,
        path: String,
        outcome: &'static str,
        latency: Duration,
    ) {
        self.inner
            .routeros_latency
            .get_or_create(&EndpointLabels {
                method,
                path: path.clone(),
            })
            .observe(latency.as_secs_f64());
        self.inner
            .routeros_calls
            .get_or_create(&CallLabels {
                method,
                path,
                outcome,
            })
            .inc();
    }

    /// One microdns write (`create_zone`, `create_record`, `delete_record`) and whether it
    /// failed.
    pub fn count_dns_write(&self, operation: &'static str, ok: bool) {
        let labels = OperationLabels { operation };
        self.inner.dns_writes.get_or_create(&labels).inc();
        if !ok {
            self.inner.dns_write_failures.get_or_create(&labels).inc();
        }
    }

    /// One image pull (a digest lookup or a manifest fetch for a tarball build).
    pub fn count_image_pull(&self, outcome: &'static str) {
        self.inner
            .image_pulls
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// One tarball build ended after `duration`.
    pub fn observe_tarball_build(&self, outcome: &'static str, duration: Duration) {
        self.inner
            .tarball_builds
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.inner
            .tarball_build_time
            .observe(duration.as_secs_f64());
    }

    /// Pods by phase as the API shows them now. A phase not in [`POD_PHASES`] counts as
    /// `Unknown`, so the label never takes a value outside that set.
    pub fn set_pods_by_phase<'a>(&self, phases: impl IntoIterator<Item = &'a str>) {
        let mut counts = [0i64; POD_PHASES.len()];
        for phase in phases {
            let at = POD_PHASES
                .iter()
                .position(|p| *p == phase)
                .unwrap_or(POD_PHASES.len() - 1);
            counts[at] += 1;
        }
        for (phase, count) in POD_PHASES.into_iter().zip(counts) {
            self.inner
                .pods
                .get_or_create(&PhaseLabels { phase })
                .set(count);
        }
    }

    /// The lifecycle unit restarted a container; `cause` is one of [`RESTART_CAUSES`].
    pub fn count_container_restart(&self, cause: &'static str) {
        self.inner
            .container_restarts
            .get_or_create(&CauseLabels { cause })
            .inc();
    }

    /// The consistency checker reaped `count` orphans of `resource` (`container`, `veth`, …).
    pub fn count_reaps(&self, resource: &'static str, count: usize) {
        self.inner
            .consistency_reaps
            .get_or_create(&ResourceLabels { resource })
            .inc_by(count as u64);
    }

    /// The consistency checker repaired `count` pod networks.
    pub fn count_network_repairs(&self, count: usize) {
        self.inner.network_repairs.inc_by(count as u64);
    }

    /// A consistency pass stopped or refused to act (`reason` from a fixed set).
    pub fn count_consistency_stopped(&self, reason: &'static str) {
        self.inner
            .consistency_stopped
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// The metrics in `format`.
    pub fn render_as(&self, format: Format) -> String {
        let openmetrics = self.render();
        match format {
            Format::OpenMetrics => openmetrics,
            Format::Text => openmetrics_to_text(&openmetrics),
        }
    }

    /// The metrics in OpenMetrics text (the encoder's format).
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

/// OpenMetrics text as the classic text format: a counter's `HELP` and `TYPE` name its
/// `_total` samples (OpenMetrics names the family without the suffix, which a classic parser
/// reads as an untyped metric), and the OpenMetrics-only `UNIT` and `EOF` lines go.
fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        out.push_str(&counter_metadata_as_total(line, &counters).unwrap_or_else(|| line.into()));
        out.push('\n');
    }
    out
}

/// `# HELP name …` or `# TYPE name …` of a counter, renamed to `name_total`.
fn counter_metadata_as_total(
    line: &str,
    counters: &std::collections::HashSet<&str>,
) -> Option<String> {
    let (kind, rest) = line
        .strip_prefix("# HELP ")
        .map(|r| ("HELP", r))
        .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("TYPE", r)))?;
    let (name, tail) = rest.split_once(' ')?;
    counters
        .contains(name)
        .then(|| format!("# {kind} {name}_total {tail}"))
}

/// Every series with a label from a fixed set shows from the first scrape on, at 0: a
/// failure or reap that never happened reads 0 rather than absent, so alerts and rates on
/// them work from the start. (`get_or_create` creates the series; its guard is not needed.)
fn show_known_series(m: &Inner) {
    for phase in POD_PHASES {
        m.pods.get_or_create(&PhaseLabels { phase }).set(0);
    }
    for operation in DNS_WRITES {
        let labels = OperationLabels { operation };
        let _ = m.dns_writes.get_or_create(&labels);
        let _ = m.dns_write_failures.get_or_create(&labels);
    }
    for outcome in OUTCOMES {
        let _ = m.image_pulls.get_or_create(&OutcomeLabels { outcome });
        let _ = m.tarball_builds.get_or_create(&OutcomeLabels { outcome });
    }
    for cause in RESTART_CAUSES {
        let _ = m.container_restarts.get_or_create(&CauseLabels { cause });
    }
    for resource in REAPED_RESOURCES {
        let _ = m
            .consistency_reaps
            .get_or_create(&ResourceLabels { resource });
    }
    for reason in STOP_REASONS {
        let _ = m
            .consistency_stopped
            .get_or_create(&ReasonLabels { reason });
    }
}

/// The event log's metrics.
fn register_log(registry: &mut Registry, m: &Inner) {
    registry.register(
        "events_appended",
        "Events appended to the log",
        m.events_appended.clone(),
    );
    registry.register(
        "append_latency_seconds",
        "Time from append to the server's durable acknowledgement",
        m.append_latency.clone(),
    );
    registry.register(
        "replay_duration_seconds",
        "How long the boot replay took",
        m.replay_duration.clone(),
    );
    registry.register(
        "replayed_events",
        "Events folded by the boot replay",
        m.replayed_events.clone(),
    );
    registry.register(
        "undecodable_events",
        "Records skipped because they could not be decoded",
        m.undecodable_events.clone(),
    );
    registry.register(
        "snapshot_age_seconds",
        "Seconds since the newest snapshot was written or loaded (-1 = none)",
        m.snapshot_age.clone(),
    );
    registry.register(
        "snapshots_written",
        "Snapshots written",
        m.snapshots_written.clone(),
    );
    registry.register(
        "nats_connected",
        "1 when connected to NATS",
        m.nats_connected.clone(),
    );
}

/// The engine's metrics: reconcile, device, DNS, images, pods, lifecycle, consistency.
fn register_engine(registry: &mut Registry, m: &Inner) {
    registry.register(
        "reconcile_pass_seconds",
        "Duration of reconcile passes",
        m.reconcile_pass.clone(),
    );
    registry.register(
        "reconcile_passes_aborted",
        "Reconcile passes that stopped early (device unreachable, listing failed)",
        m.reconcile_aborted.clone(),
    );
    registry.register(
        "reconcile_step_seconds",
        "Duration of each step of a reconcile pass",
        m.reconcile_step.clone(),
    );
    registry.register(
        "routeros_calls",
        "RouterOS REST calls by method, normalised path and outcome",
        m.routeros_calls.clone(),
    );
    registry.register(
        "routeros_call_seconds",
        "RouterOS REST call latency by method and normalised path",
        m.routeros_latency.clone(),
    );
    registry.register(
        "dns_writes",
        "microdns writes by operation",
        m.dns_writes.clone(),
    );
    registry.register(
        "dns_write_failures",
        "microdns writes that failed, by operation",
        m.dns_write_failures.clone(),
    );
    registry.register(
        "image_pulls",
        "Registry pulls (digest lookups and manifest fetches) by outcome",
        m.image_pulls.clone(),
    );
    registry.register(
        "image_tarball_builds",
        "Image tarball builds by outcome",
        m.tarball_builds.clone(),
    );
    registry.register(
        "image_tarball_build_seconds",
        "Duration of image tarball builds",
        m.tarball_build_time.clone(),
    );
    registry.register(
        "pods",
        "Pods by phase, as the API shows them",
        m.pods.clone(),
    );
    registry.register(
        "container_restarts",
        "Containers restarted by the lifecycle unit, by cause (keepalive LC-3, probe LC-6)",
        m.container_restarts.clone(),
    );
    registry.register(
        "consistency_reaps",
        "Orphans reaped by the consistency checker, by resource",
        m.consistency_reaps.clone(),
    );
    registry.register(
        "consistency_network_repairs",
        "Pod networks repaired by the consistency checker",
        m.network_repairs.clone(),
    );
    registry.register(
        "consistency_passes_stopped",
        "Consistency passes stopped or refused, by reason",
        m.consistency_stopped.clone(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_names_counters_by_their_samples() {
        let m = Metrics::new();
        m.count_dns_write("create_zone", false);
        let text = m.render_as(Format::Text);
        assert!(
            text.contains("# TYPE mkube_dns_writes_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP mkube_dns_writes_total microdns"),
            "{text}"
        );
        assert!(text.contains("# TYPE mkube_pods gauge\n"));
        assert!(text.contains("# TYPE mkube_reconcile_pass_seconds histogram\n"));
        assert!(!text.contains("# EOF"));
        assert!(!text.contains("# TYPE mkube_dns_writes counter"));
        let om = m.render_as(Format::OpenMetrics);
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE mkube_dns_writes counter\n"));
        // Sample lines are the same in both.
        let samples = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect()
        };
        assert_eq!(samples(&text), samples(&om));
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        for other in [
            None,
            Some("application/json"),
            Some(";;=,garbage/"),
            Some(""),
        ] {
            assert_eq!(Format::negotiate(other), Format::Text, "{other:?}");
        }
    }

    #[test]
    fn renders_every_family_with_bounded_phases() {
        let m = Metrics::new();
        m.observe_reconcile_pass(Duration::from_millis(5), false);
        m.observe_reconcile_step("2", Duration::from_millis(1));
        m.observe_routeros_call("POST", "/container/add".into(), "ok", Duration::ZERO);
        m.set_pods_by_phase(["Running", "Pending", "Running", "Weird"]);
        let text = m.render();
        assert!(
            text.contains("mkube_reconcile_pass_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains(r#"mkube_reconcile_step_seconds_count{step="2"} 1"#));
        assert!(text.contains(
            r#"mkube_routeros_calls_total{method="POST",path="/container/add",outcome="ok"} 1"#
        ));
        assert!(text.contains(r#"mkube_pods{phase="Running"} 2"#));
        assert!(text.contains(r#"mkube_pods{phase="Unknown"} 1"#));
        assert!(text.contains(r#"mkube_pods{phase="Failed"} 0"#));
        assert!(!text.contains("Weird"));
        assert!(text.contains(r#"mkube_dns_write_failures_total{operation="delete_record"} 0"#));
        assert!(text.contains(r#"mkube_consistency_reaps_total{resource="veth"} 0"#));
        assert!(text.contains(r#"mkube_image_pulls_total{outcome="error"} 0"#));
    }
}
