//! `cargo bench --bench pods`: the pods engine and the Kubernetes API (issue 5, speed section).
//! Everything on loopback: a real nats-server, the RouterOS simulator in this process, and for
//! the API and memory figures the release `mkube` binary as `mkube run` starts it.
//!
//! 1. Cold creation of 30 pods against the simulator with `--serial --latency-ms 100` (device
//!    clock real time, client pacing real time): RouterOS calls per container from the
//!    simulator's request journal, extraction polls apart (goal ≤ 7 beyond polling), and wall
//!    time against the minimum, calls × 100 ms (goal ≤ 1.2×).
//! 2. A steady-state reconcile pass (`RunPass`) with 100 pods: list calls (goal ≤ 4), writes
//!    (goal 0) and events appended (goal 0, from the log's last sequence). Populated on a second
//!    simulator without latency (clock 20× faster), so the setup takes seconds, not minutes.
//! 3. API latency and throughput against the `mkube` binary with `standalone: false` (no
//!    engine, no device): POST pod p50/p99 while creating 1000 pods, list of 1000 pods p99
//!    (goal ≤ 20 ms each), GET one pod throughput with 8 keep-alive clients (goal ≥ 5,000/s).
//! 4. Memory: the `mkube` binary in standalone mode against the simulator (no latency) with 200
//!    pods created through the API and running; VmRSS and VmHWM (goal ≤ 30 MiB).
//!
//! `MKUBE_BENCH_ONLY=1,2,3,4` picks parts; `MKUBE_BENCH_SECONDS` (3) is the GET window.
//! Without `--bench` it does nothing.

#[path = "../tests/suite/common/nats.rs"]
mod nats;

#[path = "support/rig.rs"]
mod rig;
use k8s_openapi::api::core::v1::Pod;
use mkube::actors::pods::Declare;
use mkube::actors::reconcile::RunPass;
use mkube::actors::wiring::{self, BootClock, Cluster};
use mkube::config::{self, Config};
use mkube::events::catalogue::PodSource;
use mkube::events::log::EventLog;
use mkube::metrics::Metrics;
use mkube::pod::sample::SamplePod;
use nats::NatsServer;
use rig::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn wanted(part: u32) -> bool {
    match std::env::var("MKUBE_BENCH_ONLY") {
        Ok(v) => v.split(',').any(|p| p.trim() == part.to_string()),
        Err(_) => true,
    }
}

/// mkube's configuration for the bench (`rig::config_yaml`, no DNS server, no manifest).
fn config_yaml(nats_url: &str, rest_url: &str, standalone: bool, listen: &str) -> String {
    let base = rig::config_yaml(nats_url, rest_url, standalone, "http://127.0.0.1:9", listen);
    format!("{base}lifecycle: {{bootManifestPath: \"\"}}\n")
}

fn pod(name: &str) -> Pod {
    SamplePod::on_device("default", name, TARBALL).build()
}

/// An in-process cluster booted as `mkube run` does, in standalone mode against `device`.
async fn engine_cluster(nats: &NatsServer, device: &Device, pacing: f64) -> (Config, Cluster) {
    let yaml = config_yaml(&nats.url(), &device.sim.rest_url(), true, "127.0.0.1:0");
    let mut cfg = config::from_yaml_str(&yaml, "bench").unwrap().config;
    cfg.routeros.pacing = pacing;
    cfg.lifecycle.reconcile_interval_seconds = 3600.0;
    cfg.lifecycle.dangling_ports_after_seconds = 3600.0;
    let cluster = wiring::boot(&cfg, Metrics::new(), &BootClock::default())
        .await
        .unwrap();
    assert!(cluster.routeros.is_some(), "the simulator answered at boot");
    (cfg, cluster)
}

async fn declare(c: &Cluster, names: &[String]) {
    for n in names {
        c.pods
            .send(Declare {
                pod: pod(n),
                source: PodSource::Api,
                correlation: "bench".into(),
            })
            .await
            .unwrap()
            .unwrap();
    }
}

/// Waits (in process, no device calls) until every pod's container is recorded started.
async fn wait_started(c: &Cluster, names: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let state = c.pods_published.read(&c.pods).await.unwrap().state;
        let done = names.iter().all(|n| {
            state
                .pods
                .get(&format!("default/{n}"))
                .and_then(|p| p.containers.get("app"))
                .is_some_and(|c| c.started && !c.device_id.is_empty())
        });
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "pods not started in {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1

async fn part1() {
    const PODS: usize = 30;
    const LATENCY_MS: u64 = 100;
    let nats = NatsServer::start();
    let device = Device::start(LATENCY_MS, true, 1.0).await;
    // `MKUBE_BENCH_EXTRACT_MS` sets the simulator's extraction overhead (default 1000 ms, which
    // a blocking `/container/add` holds the serial device for).
    let extract_ms: Option<u64> = std::env::var("MKUBE_BENCH_EXTRACT_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(ms) = extract_ms {
        device
            .control(
                reqwest::Method::PATCH,
                "knobs",
                json!({"extractOverheadMs": ms}),
            )
            .await;
    }
    let (_cfg, c) = engine_cluster(&nats, &device, 1.0).await;
    let names: Vec<String> = (1..=PODS).map(|i| format!("c{i:03}")).collect();
    // `mkube run`'s first reconcile pass (no pods yet): its bulk read is the observation cold
    // creates decide from. Before the window, like boot.
    let reconcile = c.reconcile.as_ref().expect("standalone reconcile loop");
    reconcile.send(RunPass).await.unwrap();
    device.clear_journal().await;
    let started = Instant::now();
    declare(&c, &names).await;
    wait_started(&c, &names, Duration::from_secs(600)).await;
    let wall = started.elapsed();
    let journal = device.journal().await;
    let rows = device.containers().await;
    let ids: HashMap<String, String> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r["name"].as_str()?.to_string(),
                r[".id"].as_str()?.to_string(),
            ))
        })
        .collect();

    // Attribute each call to the pod whose names (container, veth, mount list) or container id
    // it carries; the rest are shared (whole-table lists and the like).
    let mut per_pod: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    let mut shared: Vec<&Value> = Vec::new();
    for e in &journal {
        let text = format!(
            "{} {} {}",
            e["path"].as_str().unwrap_or(""),
            e["query"].as_str().unwrap_or(""),
            e["body"]
        );
        let owner = names.iter().find(|n| {
            let cname = format!("default_{n}_app");
            text.contains(&format!("default_{n}_"))
                || ids.get(&cname).is_some_and(|id| {
                    text.contains(&format!("\"{id}\"")) || text.contains(&format!("/{id} "))
                })
        });
        match owner {
            Some(n) => per_pod.entry(n.as_str()).or_default().push(e),
            None => shared.push(e),
        }
    }
    // Extraction polls: a pod's reads of /container between its add and its start.
    let mut polls_total = 0usize;
    let mut other_total = 0usize;
    let mut class_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_pod_other = Vec::new();
    for calls in per_pod.values() {
        let mut added = false;
        let mut startd = false;
        let (mut polls, mut other) = (0, 0);
        for e in calls {
            let cl = class(e);
            if cl == "POST /container/add" {
                added = true;
            }
            if cl == "POST /container/start" {
                startd = true;
            }
            if added && !startd && e["method"] == "GET" && cl.starts_with("GET /container") {
                polls += 1;
            } else {
                other += 1;
                *class_counts.entry(cl).or_default() += 1;
            }
        }
        polls_total += polls;
        other_total += other;
        per_pod_other.push(other);
    }
    let mut shared_counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in &shared {
        *shared_counts.entry(class(e)).or_default() += 1;
    }
    let total = journal.len();
    let writes = journal.iter().filter(|e| e["method"] != "GET").count();
    let minimum = Duration::from_millis(LATENCY_MS * total as u64);
    let ratio = wall.as_secs_f64() / minimum.as_secs_f64();
    let per_container = (other_total + shared.len()) as f64 / PODS as f64;
    let (min_o, max_o) = (
        per_pod_other.iter().min().copied().unwrap_or(0),
        per_pod_other.iter().max().copied().unwrap_or(0),
    );
    let running = rows.iter().filter(|r| is_running(r)).count();

    println!(
        "\n### 1. Cold creation of {PODS} pods, simulator `--serial --latency-ms {LATENCY_MS}`, extraction overhead {}\n",
        extract_ms.map_or("1000 ms (default)".to_string(), |ms| format!("{ms} ms"))
    );
    println!("| Measurement | Result | Goal | Met |");
    println!("|---|---|---|---|");
    println!("| RouterOS calls in total (journal) | {total} ({writes} writes) | | |");
    println!(
        "| Calls per container beyond extraction polling (own calls {min_o}–{max_o}, plus {} shared ÷ {PODS}) | {per_container:.2} | ≤ 7 | {} |",
        shared.len(),
        yes(per_container <= 7.0)
    );
    println!(
        "| Extraction polls (GET /container between add and start) | {polls_total} in total, {:.2} per container | reported apart | |",
        polls_total as f64 / PODS as f64
    );
    println!(
        "| Wall time, first Declare to all {PODS} recorded started ({running} running on the device) | {:.2} s | | |",
        wall.as_secs_f64()
    );
    println!(
        "| Minimum: {total} calls × {LATENCY_MS} ms (serial device) | {:.2} s | | |",
        minimum.as_secs_f64()
    );
    println!(
        "| Wall time ÷ minimum | {ratio:.2}× | ≤ 1.2× | {} |",
        yes(ratio <= 1.2)
    );
    // The serial device is held for a request's whole duration, and a blocking
    // `/container/add` lasts until extraction ends (1 s overhead by default): the device's real
    // floor is the sum of the journal's latencies, not calls × latency.
    let busy: f64 = journal
        .iter()
        .filter_map(|e| e["latencyMs"].as_f64())
        .sum::<f64>()
        / 1000.0;
    let adds: Vec<f64> = journal
        .iter()
        .filter(|e| e["path"].as_str() == Some("/rest/container/add"))
        .filter_map(|e| e["latencyMs"].as_f64())
        .collect();
    let add_mean = adds.iter().sum::<f64>() / adds.len().max(1) as f64;
    println!(
        "| Device busy time (Σ journal latency; {} adds held {:.0} ms each on average) | {busy:.2} s | | |",
        adds.len(),
        add_mean
    );
    println!(
        "| Wall time ÷ device busy time | {:.2}× | | |",
        wall.as_secs_f64() / busy
    );
    println!("\nCalls per container by kind (attributed to one pod, polls excluded):\n");
    println!("| Call | Count | Per container |");
    println!("|---|---|---|");
    for (cl, n) in &class_counts {
        println!("| `{cl}` | {n} | {:.2} |", *n as f64 / PODS as f64);
    }
    for (cl, n) in &shared_counts {
        println!(
            "| `{cl}` (shared, not attributable) | {n} | {:.2} |",
            *n as f64 / PODS as f64
        );
    }
    device.sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Part 2

async fn part2() {
    const PODS: usize = 100;
    let nats = NatsServer::start();
    let device = Device::start(0, false, 20.0).await;
    let (cfg, c) = engine_cluster(&nats, &device, 0.05).await;
    let names: Vec<String> = (1..=PODS).map(|i| format!("s{i:03}")).collect();
    declare(&c, &names).await;
    wait_started(&c, &names, Duration::from_secs(300)).await;
    let log = EventLog::connect(wiring::log_settings(&cfg), Metrics::new())
        .await
        .unwrap();
    log.wait_ready().await;
    let reconcile = c.reconcile.as_ref().expect("standalone reconcile loop");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut rows = Vec::new();
    for label in ["first pass after creation", "steady-state pass"] {
        device.clear_journal().await;
        let before = log.last_sequence().await.unwrap();
        let t = Instant::now();
        let report = reconcile.send(RunPass).await.unwrap();
        let took = t.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = log.last_sequence().await.unwrap();
        let journal = device.journal().await;
        let lists = journal.iter().filter(|e| e["method"] == "GET").count();
        let writes = journal.len() - lists;
        let classes: Vec<String> = journal.iter().map(class).collect();
        rows.push((label, lists, writes, after - before, took, report, classes));
    }
    println!("\n### 2. Reconcile pass with {PODS} pods (`RunPass`)\n");
    println!(
        "| Pass | List calls | Writes | Events appended | Pass time | Workers run | Met (≤ 4 lists, 0 writes, 0 events) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, lists, writes, events, took, report, _) in &rows {
        println!(
            "| {label} | {lists} | {writes} | {events} | {:.1} ms | {}{} | {} |",
            took.as_secs_f64() * 1e3,
            report.ran.len(),
            report
                .aborted
                .as_ref()
                .map(|a| format!(" (aborted: {a})"))
                .unwrap_or_default(),
            yes(*lists <= 4 && *writes == 0 && *events == 0)
        );
    }
    if let Some((_, _, _, _, _, _, classes)) = rows.last() {
        println!("\nCalls of the steady-state pass: {}", classes.join(", "));
    }
    device.sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Parts 3 and 4: the mkube binary

fn pod_json(name: &str) -> Value {
    serde_json::to_value(pod(name)).unwrap()
}

async fn create_pods(http: &reqwest::Client, base: &str, names: &[String]) -> Vec<f64> {
    let mut lat = Vec::with_capacity(names.len());
    for n in names {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/namespaces/default/pods"))
            .json(&pod_json(n))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let _ = r.bytes().await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(status.is_success(), "POST {n}: {status}");
    }
    lat
}

async fn part3() {
    const PODS: usize = 1000;
    let nats = NatsServer::start();
    let nats_url = nats.url();
    let m = Mkube::start(|listen| config_yaml(&nats_url, "http://127.0.0.1:9/rest", false, listen))
        .await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let names: Vec<String> = (1..=PODS).map(|i| format!("a{i:04}")).collect();
    let mut create = create_pods(&http, &m.base, &names).await;
    create.sort_by(f64::total_cmp);

    // List all 1000 pods, sequentially, after two warm-up calls.
    let list_url = format!("{}/api/v1/namespaces/default/pods", m.base);
    let mut list = Vec::new();
    let mut items = 0;
    let mut bytes = 0;
    for i in 0..102 {
        let t = Instant::now();
        let body = http
            .get(&list_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= 2 {
            list.push(ms);
        }
        if i == 0 {
            let v: Value = serde_json::from_slice(&body).unwrap();
            items = v["items"].as_array().map(Vec::len).unwrap_or(0);
            bytes = body.len();
        }
    }
    list.sort_by(f64::total_cmp);

    // GET one pod: 8 keep-alive clients for a few seconds.
    let seconds = env_u64("MKUBE_BENCH_SECONDS", 3);
    let url = format!("{}/api/v1/namespaces/default/pods/a0500", m.base);
    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, calls, errors) = (http.clone(), url.clone(), calls.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let ok = match http.get(&url).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rate = calls.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    let (rss, hwm) = m.status();

    println!(
        "\n### 3. API (`mkube run`, release binary, `standalone: false`: no engine, no device)\n"
    );
    println!("| Measurement | p50 | p99 | max | Goal | Met |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| POST pod, {PODS} sequential creates | {:.2} ms | {:.2} ms | {:.2} ms | p99 ≤ 20 ms | {} |",
        pct(&create, 50.0),
        pct(&create, 99.0),
        pct(&create, 100.0),
        yes(pct(&create, 99.0) <= 20.0)
    );
    println!(
        "| GET list of {items} pods ({} KiB JSON), {} sequential | {:.2} ms | {:.2} ms | {:.2} ms | p99 ≤ 20 ms | {} |",
        bytes / 1024,
        list.len(),
        pct(&list, 50.0),
        pct(&list, 99.0),
        pct(&list, 100.0),
        yes(pct(&list, 99.0) <= 20.0)
    );
    println!(
        "\n| Measurement | Result | Goal | Met |\n|---|---|---|---|\n| GET one pod, 8 keep-alive clients, {seconds} s | {rate:.0} req/s ({errors} failed) | ≥ 5,000/s | {} |",
        yes(rate >= 5000.0 && errors == 0)
    );
    println!(
        "| mkube RSS after the above ({PODS} pods, no engine) | VmRSS {:.1} MiB, VmHWM {:.1} MiB | | |",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

async fn part4() {
    const PODS: usize = 200;
    let nats = NatsServer::start();
    let device = Device::start(0, false, 20.0).await;
    let nats_url = nats.url();
    let rest = device.sim.rest_url();
    let m = Mkube::start(|listen| {
        let mut y = config_yaml(&nats_url, &rest, true, listen);
        y.push_str("lifecycle: {bootManifestPath: \"\", reconcileIntervalSeconds: 5}\n");
        y.replace("lifecycle: {bootManifestPath: \"\"}\n", "")
            .replace("routeros: {", "routeros: {pacing: 0.05, ")
    })
    .await;
    let (rss0, _) = m.status();
    let http = reqwest::Client::new();
    let names: Vec<String> = (1..=PODS).map(|i| format!("r{i:03}")).collect();
    create_pods(&http, &m.base, &names).await;
    let t = Instant::now();
    let deadline = t + Duration::from_secs(300);
    let mut running;
    loop {
        running = device
            .containers()
            .await
            .iter()
            .filter(|r| is_running(r))
            .count();
        if running >= PODS || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready_in = t.elapsed();
    let (rss_running, _) = m.status();
    // Two more periodic reconcile passes (every 5 s) and status reads through the API.
    tokio::time::sleep(Duration::from_secs(11)).await;
    for _ in 0..5 {
        let _ = http
            .get(format!("{}/api/v1/namespaces/default/pods", m.base))
            .send()
            .await
            .unwrap()
            .bytes()
            .await;
    }
    let (rss, hwm) = m.status();
    println!(
        "\n### 4. Memory: `mkube run` (release binary) standalone against the simulator, {PODS} pods\n"
    );
    println!("| Measurement | Result | Goal | Met |");
    println!("|---|---|---|---|");
    println!(
        "| VmRSS after boot, no pods | {:.1} MiB | | |",
        rss0 as f64 / 1024.0
    );
    println!(
        "| VmRSS when {running}/{PODS} containers were running ({:.1} s after the last POST) | {:.1} MiB | | |",
        ready_in.as_secs_f64(),
        rss_running as f64 / 1024.0
    );
    println!(
        "| VmRSS after two more reconcile passes and 5 pod lists | {:.1} MiB | ≤ 30 MiB | {} |",
        rss as f64 / 1024.0,
        yes(rss as f64 / 1024.0 <= 30.0)
    );
    println!(
        "| VmHWM (peak RSS) | {:.1} MiB | ≤ 30 MiB | {} |",
        hwm as f64 / 1024.0,
        yes(hwm as f64 / 1024.0 <= 30.0)
    );
    drop(m);
    device.sim.stop().await;
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    mkube::tls::ensure_ring_provider();
    if wanted(1) || wanted(2) {
        actix_rt::System::new().block_on(async {
            if wanted(1) {
                part1().await;
            }
            if wanted(2) {
                part2().await;
            }
        });
    }
    if wanted(3) || wanted(4) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if wanted(3) {
                part3().await;
            }
            if wanted(4) {
                part4().await;
            }
        });
    }
}
