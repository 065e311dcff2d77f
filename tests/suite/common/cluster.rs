//! An in-process cluster on a test NATS server: the same `wiring::boot` the binary uses.

use mkube::actors::wiring::{self, BootClock, Cluster};
use mkube::config::{self, Config};
use mkube::events::log::{EventLog, LogSettings};
use mkube::metrics::Metrics;

pub const NODE: &str = "test-node";

/// A loopback config with two networks, for actors that need pools. The repair pass (§6.3)
/// is off: tests that plant device objects of mkube's naming on purpose (LC-1, L-2) keep
/// their meaning; the consistency tests turn it on.
pub fn config(nats_url: &str) -> Config {
    let yaml = format!(
        r#"
nodeName: {NODE}
routeros: {{restUrl: "http://127.0.0.1:9/rest"}}
networks:
  - name: t
    bridge: t
    cidr: 127.77.0.0/24
    gateway: 127.77.0.1
    ipamStart: 127.77.0.100
    ipamEnd: 127.77.0.102
    dns: {{endpoint: "http://127.0.0.1:9", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
  - name: u
    bridge: u
    cidr: 127.78.0.0/24
    dns: {{endpoint: "http://127.0.0.1:9", zone: u.lo, server: 127.78.0.252, staticRecords: []}}
nats: {{url: "{nats_url}", snapshotEvery: 1000}}
lifecycle: {{bootManifestPath: ""}}
consistency: {{repair: false}}
"#
    );
    config::from_yaml_str(&yaml, "test")
        .expect("test config")
        .config
}

pub async fn boot(config: &Config) -> Cluster {
    boot_with_metrics(config, Metrics::new()).await
}

/// [`boot`], counting into `metrics` (tests that read what `/metrics` would show).
pub async fn boot_with_metrics(config: &Config, metrics: Metrics) -> Cluster {
    // Loopback only: a test must never make mkube talk to a real device.
    let url = &config.routeros.rest_url;
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
        "test config points RouterOS at {url}"
    );
    wiring::boot(config, metrics, &BootClock::default())
        .await
        .expect("boot")
}

/// A bare log handle (for reading and raw appends) on the test stream.
pub async fn log(config: &Config) -> EventLog {
    let log = EventLog::connect(wiring::log_settings(config), Metrics::new())
        .await
        .expect("connect");
    log.wait_ready().await;
    log
}

pub fn settings(url: &str) -> LogSettings {
    LogSettings {
        url: url.to_string(),
        stream: "MKUBE_EVENTS".into(),
        node: NODE.into(),
        replicas: 1,
    }
}

/// Records any catalogue event through the actor that owns its area.
pub async fn record(c: &Cluster, event: mkube::events::Event, correlation: &str) -> u64 {
    use mkube::actors::journal::testing::Append;
    use mkube::events::Event;
    let correlation = correlation.to_string();
    let r = match event {
        Event::Pods(event) => c.pods.send(Append { event, correlation }).await,
        Event::Lifecycle(event) => c.pods.send(Append { event, correlation }).await,
        Event::Ipam(event) => c.ipam.send(Append { event, correlation }).await,
        Event::Veths(event) => c.veths.send(Append { event, correlation }).await,
        Event::Dns(event) => c.dns.send(Append { event, correlation }).await,
        Event::Images(event) => c.images.send(Append { event, correlation }).await,
        Event::Consistency(event) => c.consistency.send(Append { event, correlation }).await,
        Event::ConfigMaps(event) => c.configmaps.send(Append { event, correlation }).await,
    };
    r.expect("actor alive").expect("append")
}
