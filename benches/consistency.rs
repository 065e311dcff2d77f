//! `cargo bench --bench consistency`: the consistency checker (issue 13, speed section) with
//! 200 pods on `routeros-sim --serial --latency-ms 100`. Everything on loopback: a real
//! nats-server, the RouterOS simulator and the microdns double in this process, the release
//! `mkube` binary as `mkube run` starts it.
//!
//! Setup: 200 pods are created through the binary's API against a fast simulator (no latency,
//! clock 20×) that keeps its tables in a state file, their names in network `t`'s zone on the
//! double. That simulator stops and a second one starts on the same disk and state file with
//! `--serial --latency-ms 100` (a reboot of the same device); the binary starts again on it.
//!
//! 1. The binary, repair pass on with its defaults: `GET /api/v1/consistency` from 8 keep-alive
//!    clients for `MKUBE_BENCH_SECONDS` (15): p50, p99, max (goal p99 ≤ 50 ms); over the same
//!    window, which holds reconcile passes and the repair passes after them, device writes and
//!    events appended (goal 0); then VmRSS and VmHWM (goal ≤ 30 MiB).
//! 2. In process, on the same log and device: one report computation's calls — device reads by
//!    table (goal ≤ 1 each) and record lists per zone (goal ≤ 1; a list is paged by 100) — and
//!    its time; one quiet repair pass (`RunRepair`): its reads, writes (goal 0) and events
//!    appended (goal 0), and its time.
//!
//! Without `--bench` it does nothing.

#[path = "../tests/suite/common/nats.rs"]
mod nats;

#[path = "support/rig.rs"]
mod rig;

use mkube::actors::consistency::{GetReport, RunRepair};
use mkube::actors::reconcile::RunPass;
use mkube::actors::wiring::{self, BootClock};
use mkube::config;
use mkube::events::log::EventLog;
use mkube::metrics::Metrics;
use mkube::sim::microdns::{self, MicrodnsSimOptions, RunningMicrodns};
use nats::NatsServer;
use rig::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const PODS: usize = 200;
const LATENCY_MS: u64 = 100;

fn config_yaml(nats: &str, rest: &str, dns: &str, listen: &str, extra: &str) -> String {
    format!("{}{extra}", rig::config_yaml(nats, rest, true, dns, listen))
}

fn pod_json(name: &str) -> Value {
    serde_json::to_value(mkube::pod::sample::SamplePod::on_device("default", name, TARBALL).build())
        .unwrap()
}

/// The report's items that are not `pass`, as `name (status: message)`.
fn not_passing(report: &Value) -> String {
    let mut out = Vec::new();
    for (_, items) in report["checks"].as_object().into_iter().flatten() {
        for i in items.as_array().into_iter().flatten() {
            if i["status"] != "pass" {
                out.push(format!("{} ({}: {})", i["name"], i["status"], i["message"]));
            }
        }
    }
    out.join(", ")
}

/// Journal entries by class (`GET /container`, …).
fn classes(journal: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for e in journal {
        *out.entry(class(e)).or_default() += 1;
    }
    out
}

fn writes(journal: &[Value]) -> usize {
    journal.iter().filter(|e| e["method"] != "GET").count()
}

/// Lists and pages of zone records the double answered.
fn zone_lists(dns: &RunningMicrodns) -> (usize, usize) {
    let pages: Vec<_> = dns
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.route.ends_with("/records"))
        .collect();
    let lists = pages
        .iter()
        .filter(|r| !r.query.contains("offset=") || r.query.contains("offset=0"))
        .count();
    (lists, pages.len())
}

async fn log(nats: &str) -> EventLog {
    let settings = mkube::events::log::LogSettings {
        url: nats.to_string(),
        stream: "MKUBE_EVENTS".into(),
        node: "bench-node".into(),
        replicas: 1,
    };
    let log = EventLog::connect(settings, Metrics::new()).await.unwrap();
    log.wait_ready().await;
    log
}

struct World {
    nats: NatsServer,
    dns: RunningMicrodns,
    disk: tempfile::TempDir,
}

/// 200 running pods and their names, created through the binary on a fast device; the
/// device's tables are in `<disk>/device.json`.
async fn populate() -> World {
    let nats = NatsServer::start();
    let dns = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let disk = tempfile::tempdir().unwrap();
    let state = disk.path().join("device.json");
    let fast = Device::start_at(disk.path(), Some(state), 0, false, 20.0).await;
    let (url, rest, endpoint) = (nats.url(), fast.sim.rest_url(), dns.endpoint());
    let mut m = Mkube::start(|listen| {
        config_yaml(
            &url,
            &rest,
            &endpoint,
            listen,
            "lifecycle: {bootManifestPath: \"\", reconcileIntervalSeconds: 5}\n",
        )
        .replace("password: \"\"}", "password: \"\", pacing: 0.05}")
    })
    .await;
    let http = reqwest::Client::new();
    for i in 1..=PODS {
        let r = http
            .post(format!("{}/api/v1/namespaces/default/pods", m.base))
            .json(&pod_json(&format!("r{i:03}")))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let running = fast
            .containers()
            .await
            .iter()
            .filter(|r| is_running(r))
            .count();
        let names = dns.records("t.lo").len();
        if running >= PODS && names >= 2 * PODS + 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} running, {names} names"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    m.terminate();
    fast.sim.stop().await;
    World { nats, dns, disk }
}

fn slow_device(disk: &Path) -> impl std::future::Future<Output = Device> + '_ {
    Device::start_at(disk, Some(disk.join("device.json")), LATENCY_MS, true, 1.0)
}

async fn part1(w: &World) {
    let device = slow_device(w.disk.path()).await;
    let (url, rest, endpoint) = (w.nats.url(), device.sim.rest_url(), w.dns.endpoint());
    let m = Mkube::start(|listen| {
        config_yaml(
            &url,
            &rest,
            &endpoint,
            listen,
            "lifecycle: {bootManifestPath: \"\"}\n",
        )
    })
    .await;
    // The first reconcile pass (10 s) and the repair pass after it (5 s later).
    tokio::time::sleep(Duration::from_secs(20)).await;
    let log = log(&url).await;
    device.clear_journal().await;
    let before = log.last_sequence().await.unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let seconds = env_u64("MKUBE_BENCH_SECONDS", 15);
    let url = format!("{}/api/v1/consistency", m.base);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut stamps = std::collections::BTreeSet::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                stamps.insert(body["timestamp"].as_str().unwrap_or_default().to_string());
            }
            (lat, stamps)
        }));
    }
    let mut lat = Vec::new();
    let mut stamps = std::collections::BTreeSet::new();
    for task in tasks {
        let (l, s) = task.await.unwrap();
        lat.extend(l);
        stamps.extend(s);
    }
    lat.sort_by(f64::total_cmp);
    let journal = device.journal().await;
    let after = log.last_sequence().await.unwrap();
    let last: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    let (rss, hwm) = m.status();
    println!("\n### 1. `mkube run` (release) on the slow device, {PODS} pods, repair pass on\n");
    println!("| Measurement | Result | Goal | Met |\n|---|---|---|---|");
    println!(
        "| `GET /api/v1/consistency`, 8 keep-alive clients, {seconds} s: {} requests, {} computations served | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | p99 ≤ 50 ms | {} |",
        lat.len(),
        stamps.len(),
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        pct(&lat, 100.0),
        yes(pct(&lat, 99.0) <= 50.0)
    );
    println!(
        "| Device writes and events appended over the window (reconcile and repair passes included) | {} writes, {} events | 0, 0 | {} |",
        writes(&journal),
        after - before,
        yes(writes(&journal) == 0 && after == before)
    );
    println!(
        "| Device calls over the window | {:?} | | |",
        classes(&journal)
    );
    println!(
        "| Report summary at the end | {} ({} bytes of JSON); not pass: {} | | |",
        last["summary"],
        last.to_string().len(),
        not_passing(&last)
    );
    println!(
        "| VmRSS / VmHWM after the window | {:.1} MiB / {:.1} MiB | ≤ 30 MiB | {} |",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        yes(rss as f64 / 1024.0 <= 30.0 && hwm as f64 / 1024.0 <= 30.0)
    );
    drop(m);
    device.sim.stop().await;
}

async fn part2(w: &World) {
    let device = slow_device(w.disk.path()).await;
    let yaml = config_yaml(
        &w.nats.url(),
        &device.sim.rest_url(),
        &w.dns.endpoint(),
        "127.0.0.1:0",
        "lifecycle: {bootManifestPath: \"\", reconcileIntervalSeconds: 3600}\nconsistency: {delaySeconds: 3600, reportMaxAgeSeconds: 0}\n",
    );
    let cfg = config::from_yaml_str(&yaml, "bench").unwrap().config;
    let c = wiring::boot(&cfg, Metrics::new(), &BootClock::default())
        .await
        .unwrap();
    c.reconcile.as_ref().unwrap().send(RunPass).await.unwrap();
    c.consistency.send(RunRepair).await.unwrap();

    device.clear_journal().await;
    w.dns.clear_requests();
    let t = Instant::now();
    let served = c.consistency.send(GetReport).await.unwrap();
    let report = &served.report;
    let took = t.elapsed();
    let journal = device.journal().await;
    let reads = classes(&journal);
    let (lists, pages) = zone_lists(&w.dns);
    let items = report.checks.containers.len()
        + report.checks.dns.len()
        + report.checks.manifest.len()
        + report.checks.ipam.len()
        + report.checks.network.len();

    let log = log(&w.nats.url()).await;
    device.clear_journal().await;
    w.dns.clear_requests();
    let before = log.last_sequence().await.unwrap();
    let t = Instant::now();
    let pass = c.consistency.send(RunRepair).await.unwrap();
    let pass_took = t.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = log.last_sequence().await.unwrap();
    let pass_journal = device.journal().await;
    let (pass_lists, pass_pages) = zone_lists(&w.dns);
    let dns_writes = w
        .dns
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();

    println!("\n### 2. In process on the same device and log ({PODS} pods)\n");
    println!("| Measurement | Result | Goal | Met |\n|---|---|---|---|");
    let one_each = reads.len() == 3 && reads.values().all(|n| *n == 1) && writes(&journal) == 0;
    println!(
        "| One report: device calls | {reads:?} | ≤ 1 read per table, no write | {} |",
        yes(one_each)
    );
    println!(
        "| One report: zone record lists (pages of 100) | {lists} list ({pages} pages) for 1 zone | ≤ 1 per zone | {} |",
        yes(lists <= 1)
    );
    println!(
        "| One report: time, items | {:.0} ms, {items} items, summary {:?} | | |",
        took.as_secs_f64() * 1e3,
        report.summary
    );
    println!(
        "| Quiet repair pass: device calls | {:?} | no write | {} |",
        classes(&pass_journal),
        yes(writes(&pass_journal) == 0)
    );
    println!(
        "| Quiet repair pass: zone lists, DNS writes, events appended | {pass_lists} list ({pass_pages} pages), {dns_writes} writes, {} events | 0 writes, 0 events | {} |",
        after - before,
        yes(dns_writes == 0 && after == before)
    );
    println!(
        "| Quiet repair pass: time, outcome | {:.0} ms; reaped {}, counted {}, refused {:?}, skipped {:?} | | |",
        pass_took.as_secs_f64() * 1e3,
        pass.reaped.len(),
        pass.counted.len(),
        pass.refused,
        pass.skipped
    );
    device.sim.stop().await;
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    mkube::tls::ensure_ring_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = runtime.block_on(async {
        let world = populate().await;
        part1(&world).await;
        world
    });
    actix_rt::System::new().block_on(part2(&world));
    drop(runtime);
}
