//! DNS bench (issue 6, results in benches/RESULTS.md): 100 pods × 2 containers across 3 zones,
//! each zone on its own microdns double. Measures the dns actor's HTTP calls for a cold
//! registration (per pod), for a full pass right after it and for a steady-state pass (goal:
//! one paged list per zone, zero writes, zero events), and the pass duration with one endpoint
//! black-holed (goal ≤ 3.5 s), first and while it stays down.
//!
//! Run: `cargo bench --bench dns`. Everything listens on 127.0.0.1.

#[path = "../tests/suite/common/nats.rs"]
mod nats;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mkube::actors::dns::{RegisterPod, SyncZones};
use mkube::actors::pods::state::PodsState;
use mkube::actors::wiring::{self, BootClock};
use mkube::config;
use mkube::events::log::EventLog;
use mkube::metrics::Metrics;
use mkube::pod::DesiredPod;
use mkube::sim::microdns::{self, Fault, FaultKind, MicrodnsSimOptions, RunningMicrodns};
use nats::NatsServer;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PODS: usize = 100;
const ZONES: [&str; 3] = ["a", "b", "c"];

fn config_yaml(nats_url: &str, endpoints: &[String]) -> String {
    let mut nets = String::new();
    for (i, (name, endpoint)) in ZONES.iter().zip(endpoints).enumerate() {
        let o = 80 + i;
        nets.push_str(&format!(
            "  - {{name: {name}, bridge: {name}, cidr: 127.{o}.0.0/24, \
             dns: {{endpoint: \"{endpoint}\", zone: {name}.lo, server: 127.{o}.0.252}}}}\n"
        ));
    }
    format!(
        "nodeName: bench-node\nstandalone: false\n\
         routeros: {{restUrl: \"http://127.0.0.1:9/rest\"}}\nnetworks:\n{nets}\
         nats: {{url: \"{nats_url}\", snapshotEvery: 100000}}\nlifecycle: {{bootManifestPath: \"\"}}\n\
         api: {{listen: \"127.0.0.1:0\"}}\n"
    )
}

/// Pod `p<i>` on zone i % 3 with containers `app` and `side` at known addresses.
fn desired(i: usize) -> (String, DesiredPod) {
    let zone = ZONES[i % 3];
    let o = 80 + i % 3;
    let name = format!("p{i:03}");
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some("default".into()),
            annotations: Some(BTreeMap::from([(
                "vkube.io/network".to_string(),
                zone.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: ["app", "side"]
                .iter()
                .map(|c| Container {
                    name: c.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let container = |idx: usize| {
        json!({"deviceName": format!("default_{name}_{idx}"), "deviceId": "*1", "adopted": false,
            "started": true, "veth": format!("veth_{name}_{idx}"), "network": zone,
            "ip": format!("127.{o}.{}.{}", 1 + idx, 10 + i / 3), "revision": 0,
            "imageDigest": "", "removing": false})
    };
    let value = json!({
        "pod": pod, "source": "api", "lastFailure": null, "revision": 0,
        "containers": {"app": container(0), "side": container(1)}
    });
    (
        format!("default/{name}"),
        serde_json::from_value(value).expect("desired pod"),
    )
}

struct Calls {
    lists: usize,
    writes: usize,
    total: usize,
}

fn calls(sims: &[RunningMicrodns]) -> Calls {
    let reqs: Vec<_> = sims.iter().flat_map(|s| s.requests()).collect();
    Calls {
        lists: reqs
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/records"))
            .count(),
        writes: reqs.iter().filter(|r| r.method != "GET").count(),
        total: reqs.len(),
    }
}

fn clear(sims: &[RunningMicrodns]) {
    sims.iter().for_each(|s| s.clear_requests());
}

#[actix_rt::main]
async fn main() {
    let nats = NatsServer::start();
    let mut sims = Vec::new();
    for _ in ZONES {
        sims.push(
            microdns::start(MicrodnsSimOptions::default())
                .await
                .unwrap(),
        );
    }
    let endpoints: Vec<String> = sims.iter().map(|s| s.endpoint()).collect();
    let cfg = config::from_yaml_str(&config_yaml(&nats.url(), &endpoints), "bench")
        .unwrap()
        .config;
    let c = wiring::boot(&cfg, Metrics::new(), &BootClock::default())
        .await
        .unwrap();
    let log = EventLog::connect(wiring::log_settings(&cfg), Metrics::new())
        .await
        .unwrap();
    log.wait_ready().await;
    let sync = |pods: &PodsState| SyncZones {
        pods: Arc::new(pods.clone()),
        correlation: "bench".into(),
    };

    // Zone bootstrap with no pods yet (DNS-1): zones created, infrastructure names written.
    let empty = PodsState::default();
    clear(&sims);
    let t = Instant::now();
    c.dns.send(sync(&empty)).await.unwrap();
    let boot = (calls(&sims), t.elapsed());

    // Cold registration: each pod's names as its containers get addresses (R9).
    let mut state = PodsState::default();
    clear(&sims);
    let t = Instant::now();
    for i in 0..PODS {
        let (key, pod) = desired(i);
        c.dns
            .send(RegisterPod {
                pod: pod.clone(),
                correlation: "bench".into(),
            })
            .await
            .unwrap();
        state.pods.insert(key, pod);
    }
    let cold = (calls(&sims), t.elapsed());

    let mut passes = Vec::new();
    for label in ["pass right after registration", "steady-state pass"] {
        clear(&sims);
        let before = log.last_sequence().await.unwrap();
        let t = Instant::now();
        let report = c.dns.send(sync(&state)).await.unwrap();
        let took = t.elapsed();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let events = log.last_sequence().await.unwrap() - before;
        passes.push((label, calls(&sims), report.writes(), events, took));
    }

    sims[1].set_fault(Fault::new(FaultKind::Blackhole));
    let mut dark = Vec::new();
    for label in [
        "first pass with zone b black-holed",
        "next pass (b gated by its health check)",
    ] {
        clear(&sims);
        let t = Instant::now();
        let report = c.dns.send(sync(&state)).await.unwrap();
        let took = t.elapsed();
        let others_ok = report
            .zones
            .iter()
            .filter(|z| z.network != "b")
            .all(|z| z.error.is_none());
        dark.push((label, took, others_ok, calls(&sims[1..2]).total));
    }

    let records: usize = sims
        .iter()
        .map(|s| s.records(&format!("{}.lo", "a")).len())
        .sum::<usize>();
    println!("\n## DNS (issue 6): {PODS} pods × 2 containers across 3 zones\n");
    println!(
        "Records in zone a.lo after registration: {records} (pod + 2 container names per pod, plus rose1 and dns)\n"
    );
    println!("| Measurement | DNS HTTP calls | Record-list GETs | Writes | Time |");
    println!("|---|---|---|---|---|");
    println!(
        "| Zone bootstrap, no pods (3 zones) | {} | {} | {} | {:.1} ms |",
        boot.0.total,
        boot.0.lists,
        boot.0.writes,
        boot.1.as_secs_f64() * 1e3
    );
    println!(
        "| Cold registration of {PODS} pods (`RegisterPod`) | {} ({:.2} per pod) | {} | {} ({:.2} per pod) | {:.1} ms |",
        cold.0.total,
        cold.0.total as f64 / PODS as f64,
        cold.0.lists,
        cold.0.writes,
        cold.0.writes as f64 / PODS as f64,
        cold.1.as_secs_f64() * 1e3
    );
    println!(
        "\n| Pass | DNS HTTP calls | Record-list GETs (pages) | Writes | Events | Pass time | Met (lists only, 0 writes, 0 events) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, calls, writes, events, took) in &passes {
        let met = calls.writes == 0 && *writes == 0 && *events == 0 && calls.total == calls.lists;
        println!(
            "| {label} | {} | {} | {} | {events} | {:.1} ms | {} |",
            calls.total,
            calls.lists,
            calls.writes,
            took.as_secs_f64() * 1e3,
            if met { "yes" } else { "no" }
        );
    }
    println!("\n| Pass | Pass time | Other zones synced | Calls to b | Goal ≤ 3.5 s |");
    println!("|---|---|---|---|---|");
    for (label, took, ok, to_b) in &dark {
        println!(
            "| {label} | {:.2} s | {} | {to_b} | {} |",
            took.as_secs_f64(),
            if *ok { "yes" } else { "no" },
            if took.as_secs_f64() <= 3.5 {
                "met"
            } else {
                "not met"
            }
        );
    }
    for s in sims {
        s.stop();
    }
}
