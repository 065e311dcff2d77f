//! `cargo bench --bench routeros`: the RouterOS simulator and mkube's REST client, both on
//! loopback in this process.
//!
//! 1. Simulator throughput at zero latency: concurrent keep-alive clients (raw HTTP, not
//!    mkube's client) calling a mix of reads and writes for a few seconds. Target: ≥ 5,000
//!    calls/s on 2 cores, so that the simulator is never what a benchmark measures.
//! 2. The client's own overhead per call: the same read sequentially through a bare reqwest
//!    client and through `RosClient`; the difference is what the client adds.
//! 3. Calls per high-level operation (from the client's call counter): ensure veth (new and
//!    no-op), CreatePod for one container with a mount and an env, Replace, DeletePod, and the
//!    bulk snapshot.
//!
//! Scale with `MKUBE_BENCH_SECONDS` (throughput window, 3) and `MKUBE_BENCH_CALLS` (sequential
//! calls for the overhead, 2000). Without `--bench` it does nothing.

#[path = "support/tiny_image.rs"]
mod tiny_image_support;
use mkube::routeros::{
    ClientOptions, ContainerSpec, ImageSource, MountSpec, Pacing, PodContainerPlan, RosClient,
    SnapshotOptions, VethSpec,
};
use mkube::sim::routeros::{SimOptions, start};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tiny_image_support::tiny_image;

const THROUGHPUT_TARGET: f64 = 5_000.0;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn throughput(rest: &str, seconds: u64) -> (f64, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (http, calls, errors, rest) = (
            http.clone(),
            calls.clone(),
            errors.clone(),
            rest.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                // Mostly reads, as reconcile does, with a veth add/remove pair now and then.
                let ok = match i % 10 {
                    0 => {
                        let name = format!("veth_bench_{worker}_{i}");
                        let add = http
                            .post(format!("{rest}/interface/veth/add"))
                            .basic_auth("admin", Some(""))
                            .json(&serde_json::json!({"name": name, "address": "127.99.0.2/24", "gateway": "127.99.0.1"}))
                            .send()
                            .await;
                        calls.fetch_add(1, Ordering::Relaxed);
                        let removed = http
                            .post(format!("{rest}/interface/veth/remove"))
                            .basic_auth("admin", Some(""))
                            .json(&serde_json::json!({"numbers": name}))
                            .send()
                            .await;
                        add.is_ok_and(|r| r.status().is_success())
                            && removed.is_ok_and(|r| r.status().is_success())
                    }
                    1..=4 => http
                        .get(format!("{rest}/container"))
                        .basic_auth("admin", Some(""))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    5..=7 => http
                        .get(format!("{rest}/interface/veth"))
                        .basic_auth("admin", Some(""))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                    _ => http
                        .get(format!("{rest}/system/resource"))
                        .basic_auth("admin", Some(""))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success()),
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = calls.load(Ordering::Relaxed);
    (
        n as f64 / started.elapsed().as_secs_f64(),
        errors.load(Ordering::Relaxed),
    )
}

/// Mean µs per call of `n` sequential reads, bare reqwest versus `RosClient`, each measured in
/// five alternating rounds after a warm-up; the fastest round of each counts (least noise).
async fn overhead(rest: &str, client: &RosClient, n: u64) -> (f64, f64) {
    let http = reqwest::Client::new();
    let bare = || async {
        let started = Instant::now();
        for _ in 0..n {
            let r = http
                .get(format!("{rest}/interface/veth"))
                .query(&[("name", "veth_bench")])
                .basic_auth("admin", Some(""))
                .send()
                .await
                .unwrap();
            let _: serde_json::Value = r.json().await.unwrap();
        }
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let typed = || async {
        let started = Instant::now();
        for _ in 0..n {
            client.find_veth("veth_bench").await.unwrap();
        }
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    bare().await;
    typed().await;
    let (mut best_bare, mut best_typed) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        best_bare = best_bare.min(bare().await);
        best_typed = best_typed.min(typed().await);
    }
    (best_bare, best_typed)
}

async fn calls_per_operation(client: &RosClient) -> Vec<(&'static str, u64)> {
    let mut rows = Vec::new();
    let mut measure = |label: &'static str, before: u64, client: &RosClient| {
        rows.push((label, client.call_count() - before));
    };
    let b = client.call_count();
    client
        .ensure_veth("veth_default_web_0", "127.99.0.10/24", "127.99.0.1")
        .await
        .unwrap();
    measure("ensure veth (new)", b, client);
    let b = client.call_count();
    client
        .ensure_veth("veth_default_web_0", "127.99.0.10/24", "127.99.0.1")
        .await
        .unwrap();
    measure("ensure veth (no-op)", b, client);
    let plan = PodContainerPlan {
        container: ContainerSpec::new(
            "default_web_web",
            ImageSource::File("raid1/cache/bench.tar".into()),
            "veth_default_web_0",
            "/raid1/images/default_web_web",
        ),
        veth: VethSpec {
            name: "veth_default_web_0".into(),
            address: "127.99.0.10/24".into(),
            gateway: "127.99.0.1".into(),
        },
        bridge: "bench".into(),
        mounts: vec![MountSpec {
            src: "/raid1/volumes/default_web_web/data".into(),
            dst: "/data".into(),
            read_only: false,
        }],
        envs: vec![("MODE".into(), "bench".into())],
    };
    let b = client.call_count();
    client.create_pod_container(&plan).await.unwrap();
    measure("CreatePod (1 container, 1 mount, 1 env)", b, client);
    let b = client.call_count();
    client
        .replace_container(
            "default_web_web",
            ImageSource::File("raid1/cache/bench.tar".into()),
        )
        .await
        .unwrap();
    measure("Replace (new image)", b, client);
    let b = client.call_count();
    client.snapshot(SnapshotOptions::default()).await.unwrap();
    measure("bulk snapshot (default options)", b, client);
    let b = client.call_count();
    client
        .delete_pod_container("default_web_web", Some("veth_default_web_0"))
        .await
        .unwrap();
    measure("DeletePod (1 container)", b, client);
    rows
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    mkube::tls::ensure_ring_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let disk = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(disk.path().join("raid1/cache")).unwrap();
        tiny_image(&disk.path().join("raid1/cache/bench.tar"));
        let sim = start(SimOptions::new(disk.path().to_path_buf())).await.unwrap();
        let rest = sim.rest_url();
        let http = reqwest::Client::new();
        // Device time 100× faster so extraction and stop/remove windows do not dominate step 3.
        http.patch(format!("{}/knobs", sim.control_url()))
            .json(&serde_json::json!({"clockFactor": 100.0, "fileListCostUs": 0}))
            .send()
            .await
            .unwrap();
        http.post(format!("{}/seed", sim.control_url()))
            .json(&serde_json::json!({"bridges": ["bench"]}))
            .send()
            .await
            .unwrap();

        let seconds = env_u64("MKUBE_BENCH_SECONDS", 3);
        let (rate, errors) = throughput(&rest, seconds).await;
        let mut opts = ClientOptions::new(rest.clone(), "admin", "");
        opts.pacing = Pacing::scaled(0.01);
        let client = RosClient::connect(opts).await.unwrap();
        let n = env_u64("MKUBE_BENCH_CALLS", 2000);
        let (raw, typed) = overhead(&rest, &client, n).await;
        let ops = calls_per_operation(&client).await;

        println!("| Measurement | Result | Target | Met |");
        println!("|---|---|---|---|");
        println!(
            "| Simulator throughput, 8 keep-alive clients, zero latency, {seconds} s (70% reads of /container and /interface/veth, 20% /system/resource, 10% veth add+remove) | {rate:.0} calls/s ({errors} failed) | ≥ 5,000 calls/s | {} |",
            if rate >= THROUGHPUT_TARGET && errors == 0 { "yes" } else { "no" }
        );
        println!("| GET /interface/veth?name=…, bare reqwest, sequential ({n} calls) | {raw:.0} µs/call | | |");
        println!("| Same through `RosClient::find_veth` | {typed:.0} µs/call (client overhead {:.0} µs/call) | | |", typed - raw);
        for (label, calls) in ops {
            println!("| REST calls for {label} | {calls} | | |");
        }
        sim.stop().await;
    });
}
