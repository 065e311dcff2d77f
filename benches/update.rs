//! `cargo bench --bench update`: push of `mkube:edge` → the new mkube container running, on a
//! routeros-sim with 100 ms per REST call (issue 15's goal: ≤ extraction + 10 device calls ×
//! latency + mkube's own boot). mkube-update runs in this process as the binary runs it: the
//! registry's `:5001/events` stream wakes a cycle; the cycle replaces `kube.gt.lo`. The health
//! window is set to 0 so the clock stops when the container runs (the window is a deliberate
//! wait after that). Device calls are read from the simulator's journal.
//!
//! `MKUBE_BENCH_LAYER_MB` (16) sizes the image's layer; `MKUBE_BENCH_LATENCY_MS` (100);
//! `MKUBE_BENCH_RUNS` (3); `MKUBE_BENCH_JOURNAL` set prints each run's device calls. Without `--bench` it does nothing.

use mkube::registry::{self, RegistryOptions};
use mkube::sim::routeros::{SimOptions, start};
use mkube::update::Updater;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sha(data: &[u8]) -> String {
    mkube::oci::sha256_digest(data)
}

/// Pushes `mkube:edge` with one uncompressed layer of `mb` MiB (pseudo-random, `seed`).
async fn push(http: &reqwest::Client, base: &str, mb: u64, seed: u8) {
    let mut b = tar::Builder::new(Vec::new());
    let mut data = vec![0u8; (mb * 1024 * 1024) as usize];
    let mut x: u32 = 0x9e37_79b9 ^ seed as u32;
    for byte in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, "mkube", &data[..]).unwrap();
    let layer = b.into_inner().unwrap();
    let config = json!({"architecture": "arm64", "os": "linux",
        "config": {"Entrypoint": ["/mkube"], "Cmd": ["run"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]}})
    .to_string()
    .into_bytes();
    for blob in [&config, &layer] {
        let r = http
            .post(format!(
                "{base}/v2/mkube/blobs/uploads/?digest={}",
                sha(blob)
            ))
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "blob push: {}", r.status());
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()}]});
    let r = http
        .put(format!("{base}/v2/mkube/manifests/edge"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "manifest push: {}", r.status());
}

async fn journal(http: &reqwest::Client, control: &str) -> Vec<Value> {
    http.get(format!("{control}/journal"))
        .send()
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

#[actix_rt::main]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let latency = env_u64("MKUBE_BENCH_LATENCY_MS", 100);
    let mb = env_u64("MKUBE_BENCH_LAYER_MB", 16);
    let runs = env_u64("MKUBE_BENCH_RUNS", 3);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(dir.path().join("disk"));
    opts.latency = Duration::from_millis(latency);
    let sim = start(opts).await.unwrap();
    let control = sim.control_url();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    http.post(format!("{control}/seed"))
        .json(&json!({"bridges": ["bridge-gt"]}))
        .send()
        .await
        .unwrap();
    let mut ropts = RegistryOptions::new(dir.path().join("store"));
    ropts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
    let reg = registry::start(ropts).await.unwrap();
    let base = reg.base_url();
    let rest = sim.rest_url();
    let veth = http
        .post(format!("{rest}/interface/veth/add"))
        .basic_auth("admin", Some(""))
        .json(&json!({"name": "veth-mkube", "address": "127.42.0.2/24", "gateway": "127.42.0.1"}))
        .send()
        .await
        .unwrap();
    assert!(veth.status().is_success());
    let data = dir
        .path()
        .join("disk/raid1/volumes/mkube-update-updater/data");
    let cfg = format!(
        "registryURL: {base}\nrouterosURL: {rest}\nrouterosUser: admin\nrouterosPassword: \"\"\nregistryCACert: /nonexistent\ndataDir: {}\neventsURL: {}/events\nhealthSeconds: 0\nbootstrap:\n  enabled: true\n  image: upstream.example/glennswest/mkube:edge\n  container:\n    name: kube.gt.lo\n    interface: veth-mkube\n    rootDir: /raid1/images/kube.gt.lo\n    dns: 127.42.0.199\n    mountLists: []\nwatches:\n  - repo: mkube\n    tags: [edge, latest]\n    container: kube.gt.lo\n",
        data.display(),
        reg.mgmt_url().unwrap()
    );
    let cfg = mkube::update::config::parse(&cfg).unwrap();
    let events = cfg.events_url().unwrap();
    push(&http, &base, mb, 0).await;
    let updater = Arc::new(Updater::connect(cfg).await.unwrap());
    let started = Instant::now();
    updater.cycle().await;
    println!(
        "bootstrap of a missing kube.gt.lo ({mb} MiB layer): {:.2} s, {} device calls",
        started.elapsed().as_secs_f64(),
        journal(&http, &control).await.len()
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(mkube::update::events::follow(events, wake.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let looping = updater.clone();
    tokio::spawn(async move {
        loop {
            wake.notified().await;
            let out = looping.cycle().await;
            let _ = tx.send((Instant::now(), out));
        }
    });
    // The stream's connect wakes one cycle: let it pass.
    let _ = rx.recv().await;
    println!("| run | push → running | device calls | of which container polls | cycle |");
    println!("|---|---|---|---|---|");
    for run in 1..=runs {
        http.delete(format!("{control}/journal"))
            .send()
            .await
            .unwrap();
        push(&http, &base, mb, run as u8).await;
        let pushed = Instant::now();
        let (done, out) = loop {
            let (at, out) = rx.recv().await.unwrap();
            if out
                .iter()
                .any(|(_, o)| matches!(o, mkube::update::poll::WatchOutcome::Replaced { .. }))
            {
                break (at, out);
            }
        };
        let calls = journal(&http, &control).await;
        if std::env::var_os("MKUBE_BENCH_JOURNAL").is_some() {
            for e in &calls {
                println!(
                    "  {} {} {}?{} {} ({:.0} ms)",
                    e["seq"],
                    e["method"],
                    e["path"],
                    e["query"].as_str().unwrap_or(""),
                    e["status"],
                    e["latencyMs"].as_f64().unwrap_or(0.0)
                );
            }
        }
        let polls = calls
            .iter()
            .filter(|e| e["method"] == "GET" && e["path"] == "/rest/container")
            .count();
        println!(
            "| {run} | {:.2} s | {} | {polls} | {:?} |",
            done.duration_since(pushed).as_secs_f64(),
            calls.len(),
            out[0].1
        );
    }
}
