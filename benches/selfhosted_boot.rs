//! `cargo bench --bench selfhosted_boot --profile dev`: mkube's boot to ready *inside the
//! device*, with 100 pods recorded in its log (issue 15's goal: ready ≤ 1 s after NATS answers,
//! on a device answering each REST call after 100 ms).
//!
//! The self-hosted site of `tests/suite/selfhosted.rs`: an upstream registry holding the site
//! images (`scripts/images --profile image-dev`: static, unoptimised), a bare `routeros-sim
//! --run-containers` (in this process; clock ×1000 for device delays), `mkube-installer` run as
//! its binary → registry, NATS and mkube-update run as processes in the device, mkube-update
//! bootstraps mkube (`kube.gt.lo`). 100 pods of the probe image (a static program that
//! sleeps) are created through mkube's API and run, all without latency. Then mkube-update is
//! stopped (so the device's journal holds mkube's calls only) and the latency knob
//! (`latencyMs`, what `--latency-ms` sets) turned to 100 ms. Each run takes the mkube container
//! down through the device — killed (SIGKILL: no final snapshot, the boot replays the whole log)
//! or stopped (`/container/stop`, SIGTERM: mkube writes a final snapshot, as in a swap) —
//! starts it with `/container/start` and polls `GET /readyz` every 10 ms. Per run:
//! - **process → ready**: the wall clock at the first `/readyz` 200 minus the process start,
//!   which mkube's first `BOOT:` line gives (its timestamp minus its `total_ms`);
//! - mkube's own `BOOT:` phases and replay figures, read from the container's output, which the
//!   device copies to `/log` (the container has `logging=yes`); **NATS connected → ready** is
//!   `BOOT: NATS connected` → `BOOT: complete, serving` (NATS is its own container and answers
//!   throughout);
//! - the device calls mkube made from its start to ready (the simulator's journal).
//!
//! `MKUBE_BENCH_PODS` (100), `MKUBE_BENCH_LATENCY_MS` (100), `MKUBE_BENCH_RUNS` (3 per way
//! down); `MKUBE_BENCH_JOURNAL` set lists each run's device calls. Needs skopeo, buildah and
//! nats-server (as the selfhosted test). Without `--bench` it does nothing.

#[path = "../tests/suite/images_support/mod.rs"]
mod images_support;
#[path = "../tests/suite/installer_support/mod.rs"]
mod installer_support;
// rig.rs takes its free ports from here.
#[allow(dead_code)]
#[path = "../tests/suite/common/nats.rs"]
mod nats;
#[path = "../tests/suite/registry_support/mod.rs"]
mod registry_support;
#[path = "support/rig.rs"]
mod rig;
#[path = "../tests/suite/sim_common/mod.rs"]
mod sim_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use installer_support::{Site, stand_in_archive};
use registry_support::skopeo;
use rig::{class, env_u64, pct};
use serde_json::{Value, json};

const MKUBE: &str = "kube.gt.lo";
const UPDATER: &str = "mkube-update-updater";

/// One client for mkube's API (built once: building one costs milliseconds, which the
/// `/readyz` poll would add to the figure), a fresh connection per request.
fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    })
}

async fn get_json(url: &str) -> Option<Value> {
    let resp = http().get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

async fn ready(api: &str) -> bool {
    http()
        .get(format!("{api}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Polls `check` every `every` until it gives `Some`, or panics with `what` after `secs`.
async fn until<T, Fut>(secs: u64, every: Duration, what: &str, mut check: impl FnMut() -> Fut) -> T
where
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} (after {secs} s)");
        tokio::time::sleep(every).await;
    }
}

async fn container(site: &Site, name: &str) -> Value {
    site.rows("/container")
        .await
        .into_iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn flag(row: &Value, name: &str) -> bool {
    row[name].as_str() == Some("true") || row["status"].as_str() == Some(name)
}

/// Stops the container `name` through the device's REST API and waits until it is stopped.
async fn stop(site: &Site, name: &str) {
    let id = container(site, name).await[".id"].clone();
    site.post("/container/stop", json!({".id": id})).await;
    until(
        30,
        Duration::from_millis(50),
        "container never stopped",
        || async { flag(&container(site, name).await, "stopped").then_some(()) },
    )
    .await;
}

async fn running_pods(api: &str) -> usize {
    get_json(&format!("{api}/api/v1/namespaces/default/pods"))
        .await
        .and_then(|l| l["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .count()
}

/// The numeric part of a device row id (`*1A` → 26).
fn row_id(row: &Value) -> u64 {
    row[".id"]
        .as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches('*'), 16).ok())
        .unwrap_or(0)
}

/// One line of mkube's log: its time, message and fields.
struct Line {
    at: DateTime<Utc>,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Line {
    /// A line as mkube writes it: JSON (`--log-format json`), or tracing's text format
    /// (`<time>  INFO <target>: <message> <key>=<value>…`, the image's default).
    fn parse(text: &str) -> Option<Line> {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            let f = v["fields"].as_object()?;
            return Some(Line {
                at: v["timestamp"].as_str()?.parse().ok()?,
                message: f.get("message")?.as_str()?.to_string(),
                fields: f
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_string()))
                    .collect(),
            });
        }
        let mut words = text.split_whitespace();
        let at = words.next()?.parse().ok()?;
        let _level = words.next()?;
        let _target = words.next()?;
        let (mut message, mut fields) = (Vec::new(), BTreeMap::new());
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                    fields.insert(k.to_string(), v.trim_matches('"').to_string());
                }
                _ => message.push(w),
            }
        }
        Some(Line {
            at,
            message: message.join(" "),
            fields,
        })
    }

    fn num(&self, key: &str) -> u64 {
        self.fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// mkube's output lines in `/log` (the container has `logging=yes`), after row id `after`.
async fn mkube_lines(site: &Site, after: u64) -> Vec<String> {
    let prefix = format!("{MKUBE}: ");
    site.rows("/log")
        .await
        .iter()
        .filter(|r| row_id(r) > after)
        .filter_map(|r| Some(r["message"].as_str()?.strip_prefix(&prefix)?.to_string()))
        .collect()
}

/// One restart: what mkube says of its boot and what the bench saw.
struct Run {
    /// `BOOT: <phase>` → (phase ms, total ms), in order.
    phases: Vec<(String, u64, u64)>,
    /// Process start → first `/readyz` 200, wall clock.
    process_to_ready: f64,
    /// `/container/start` answered → first `/readyz` 200.
    start_to_ready: f64,
    nats_to_ready: f64,
    /// The snapshot replay started from (0: none), the events folded after it, and the ms.
    snapshot_seq: u64,
    replayed: u64,
    replay_ms: u64,
    calls: Vec<Value>,
}

impl Run {
    fn total(&self, phase: &str) -> Option<u64> {
        self.phases
            .iter()
            .find(|(p, _, _)| p == phase)
            .map(|(_, _, t)| *t)
    }
}

/// How the running mkube goes down before a run.
#[derive(Clone, Copy)]
enum Down {
    /// `/container/stop`: SIGTERM, mkube writes its final snapshot (a swap, a reboot).
    Stop,
    /// SIGKILL (the simulator's crash control): no final snapshot, so the boot replays the
    /// log from the last periodic snapshot (every 1000 events), if any.
    Kill,
}

impl Down {
    fn name(self) -> &'static str {
        match self {
            Down::Stop => "after a stop (SIGTERM: final snapshot written)",
            Down::Kill => "after a kill -9 (no final snapshot)",
        }
    }
}

async fn restart(site: &Site, api: &str, down: Down) -> Run {
    match down {
        Down::Stop => stop(site, MKUBE).await,
        Down::Kill => {
            site.control("POST", &format!("/containers/{MKUBE}/crash"), None)
                .await;
            until(
                30,
                Duration::from_millis(50),
                "mkube never exited",
                || async { flag(&container(site, MKUBE).await, "stopped").then_some(()) },
            )
            .await;
        }
    }
    let mark = site
        .rows("/log")
        .await
        .iter()
        .map(row_id)
        .max()
        .unwrap_or(0);
    let id = container(site, MKUBE).await[".id"].clone();
    site.clear_journal().await;
    site.post("/container/start", json!({".id": id})).await;
    let started = Instant::now();
    until(
        60,
        Duration::from_millis(10),
        "mkube never ready",
        || async { ready(api).await.then_some(()) },
    )
    .await;
    let ready_at = SystemTime::now();
    let start_to_ready = started.elapsed().as_secs_f64();
    let journal = site.control("GET", "/journal", None).await;
    let calls: Vec<Value> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] != "/rest/container/start")
        .cloned()
        .collect();
    // The boot lines reach `/log` through the device's output copier: wait for the last.
    let mut last = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines: Vec<String> = mkube_lines(site, mark).await;
        if lines.iter().any(|l| l.contains("BOOT: complete, serving")) {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "no `BOOT: complete, serving` in /log; mkube's lines:\n{}",
            last.join("\n")
        );
        last = lines;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut phases = Vec::new();
    let mut process_start = None;
    let (mut snapshot_seq, mut replayed, mut replay_ms) = (0, 0, 0);
    for l in lines.iter().filter_map(|l| Line::parse(l)) {
        if l.message == "replayed from snapshot" {
            snapshot_seq = l.num("snapshot_seq");
        }
        if l.message == "replay complete" {
            replayed = l.num("events");
            replay_ms = l.num("ms");
        }
        let Some(phase) = l.message.strip_prefix("BOOT: ") else {
            continue;
        };
        let (ms, total) = (l.num("phase_ms"), l.num("total_ms"));
        if process_start.is_none() {
            process_start = Some(SystemTime::from(l.at) - Duration::from_millis(total));
        }
        phases.push((phase.to_string(), ms, total));
    }
    let process_to_ready = ready_at
        .duration_since(process_start.expect("a BOOT line"))
        .unwrap_or_default()
        .as_secs_f64();
    let mut run = Run {
        phases,
        process_to_ready,
        start_to_ready,
        nats_to_ready: 0.0,
        snapshot_seq,
        replayed,
        replay_ms,
        calls,
    };
    let nats = run.total("NATS connected").unwrap_or(0);
    let serving = run.total("complete, serving").unwrap_or(0);
    run.nats_to_ready = serving.saturating_sub(nats) as f64 / 1000.0;
    run
}

/// The markdown tables of one mode's runs.
fn report(down: Down, results: &[Run]) {
    println!("\n### {}\n", down.name());
    println!(
        "| run | process → ready | NATS connected → ready | start call answered → ready | replay: snapshot seq + events (ms) | device calls |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, r) in results.iter().enumerate() {
        println!(
            "| {} | {:.3} s | {:.3} s | {:.3} s | {} + {} ({} ms) | {} |",
            i + 1,
            r.process_to_ready,
            r.nats_to_ready,
            r.start_to_ready,
            r.snapshot_seq,
            r.replayed,
            r.replay_ms,
            r.calls.len()
        );
    }
    let sorted = |f: &dyn Fn(&Run) -> f64| {
        let mut v: Vec<f64> = results.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    };
    for (what, v) in [
        ("process → ready (s)", sorted(&|r| r.process_to_ready)),
        ("NATS connected → ready (s)", sorted(&|r| r.nats_to_ready)),
        ("device calls", sorted(&|r| r.calls.len() as f64)),
    ] {
        println!(
            "{what}: median {:.3}, max {:.3}",
            pct(&v, 50.0),
            v[v.len() - 1]
        );
    }
    println!("\nmkube's BOOT phases, ms (since its start), per run:\n");
    let header: Vec<String> = (1..=results.len()).map(|r| format!("run {r}")).collect();
    println!("| phase | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(results.len()));
    for (name, _, _) in &results[0].phases {
        let cells: Vec<String> = results
            .iter()
            .map(|r| {
                r.phases
                    .iter()
                    .find(|p| &p.0 == name)
                    .map(|p| format!("{} ({})", p.1, p.2))
                    .unwrap_or_default()
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!("\ndevice calls by kind:");
    for (i, r) in results.iter().enumerate() {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for e in &r.calls {
            *by.entry(class(e)).or_default() += 1;
        }
        let parts: Vec<String> = by.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        println!("- run {}: {}", i + 1, parts.join(", "));
        if std::env::var_os("MKUBE_BENCH_JOURNAL").is_some() {
            for e in &r.calls {
                println!(
                    "  - {} {} {}?{} {} ({:.0} ms)",
                    e["seq"],
                    e["method"],
                    e["path"],
                    e["query"].as_str().unwrap_or(""),
                    e["status"],
                    e["latencyMs"].as_f64().unwrap_or(0.0)
                );
            }
        }
    }
}

#[actix_rt::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let pods = env_u64("MKUBE_BENCH_PODS", 100) as usize;
    let latency = env_u64("MKUBE_BENCH_LATENCY_MS", 100);
    let runs = env_u64("MKUBE_BENCH_RUNS", 3);

    let setup = Instant::now();
    let site = Site::start_with(true).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, site.mkube_config()).unwrap();
    let config = config.to_str().unwrap().to_string();
    site.install(&["--mkube-config", config.as_str()]).ok();
    let api = format!("http://{}:8082", site.ip(2));
    until(
        240,
        Duration::from_millis(250),
        "mkube never ready",
        || async { ready(&api).await.then_some(()) },
    )
    .await;
    eprintln!(
        "selfhosted_boot: site up, mkube ready ({:.0} s)",
        setup.elapsed().as_secs_f64()
    );

    // The pods' image: the probe program (sleeps), in the device's registry.
    let image = format!("{}/probe:edge", site.registry_host());
    skopeo(&[
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", stand_in_archive().display()),
        &format!("docker://{image}"),
    ]);
    for i in 0..pods {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p{i:03}"), "namespace": "default"},
            "spec": {"containers": [{"name": "probe", "image": image}]}
        });
        let resp = http()
            .post(format!("{api}/api/v1/namespaces/default/pods"))
            .json(&pod)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    }
    let created = Instant::now();
    let mut seen = 0;
    loop {
        let n = running_pods(&api).await;
        if n / 10 > seen / 10 {
            eprintln!("selfhosted_boot: {n}/{pods} pods running");
        }
        seen = n;
        if n == pods {
            break;
        }
        assert!(
            created.elapsed() < Duration::from_secs(900),
            "only {n}/{pods} pods ran"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let on_device = site
        .rows("/container")
        .await
        .iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("default_p"))
        })
        .filter(|r| flag(r, "running"))
        .count();
    eprintln!(
        "selfhosted_boot: {pods} pods running ({:.0} s after their creation; {on_device} pod containers running on the device)",
        created.elapsed().as_secs_f64()
    );

    // mkube alone calls the device from here on; then the device's latency.
    stop(&site, UPDATER).await;
    site.control("PATCH", "/knobs", Some(json!({"latencyMs": latency})))
        .await;

    println!(
        "mkube boot to ready inside the device: {pods} pods, {latency} ms per device call, {runs} runs each"
    );
    // Killed first: the log then holds no final snapshot yet.
    for down in [Down::Kill, Down::Stop] {
        let mut results = Vec::new();
        for run in 1..=runs {
            // Let the previous boot's reconcile pass and checks finish.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let r = restart(&site, &api, down).await;
            let running = running_pods(&api).await;
            eprintln!(
                "selfhosted_boot: {} run {run}: process → ready {:.3} s, {} device calls, {running}/{pods} pods running",
                down.name(),
                r.process_to_ready,
                r.calls.len()
            );
            assert_eq!(running, pods, "pods lost across the restart");
            results.push(r);
        }
        report(down, &results);
    }
    site.sim.stop().await;
}
