//! `cargo bench --bench images`: the scratch images of `scripts/images` and process containers
//! in `routeros-sim --run-containers` (issue 14). Everything on loopback.
//!
//! 1. `scripts/images --push` to an mkube-registry in this process on a warm build cache: one
//!    untimed run (it also writes the docker-save archives, and builds the static binaries if
//!    they are not built yet), then `MKUBE_BENCH_RUNS` (3) timed runs; median.
//! 2. Sizes per image: its stripped binary (`strip -o` of the build output, which is what the
//!    image holds), the docker-save archive (what RouterOS imports with `file=`: the
//!    uncompressed layer, config and manifest) and the pushed gzip layer. Goal: archive ≤
//!    stripped binary + 5 %.
//! 3. Start latency: `/container/start` → the process accepts TCP on its veth address, against
//!    the same binary spawned directly (spawn → accepts), `MKUBE_BENCH_STARTS` (20) alternating
//!    pairs per image for mkube-registry, nats and microdns-sim. Goal: the difference of the
//!    medians ≤ 100 ms. The device's start delay (knob `startDelayMs`, 300 ms by default) is set
//!    to 0: it models RouterOS, not work the simulator does.
//!
//! `MKUBE_BENCH_IMAGE_PROFILE` picks the cargo profile (default `image`: release, stripped; a
//! cold build takes long on 2 cores; `image-dev` builds in minutes). Without `--bench` it does
//! nothing.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mkube::registry::{self, RegistryOptions};
use mkube::sim::routeros::{SimOptions, start};
use serde_json::{Value, json};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn p95(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1]
}

/// One `scripts/images` run: its wall time and the printed lines (name, ref, digest, size).
fn script(profile: &str, out: &Path, args: &[&str]) -> (Duration, Vec<Vec<String>>) {
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(repo().join("scripts/images"))
        .args(["--profile", profile, "--out"])
        .arg(out)
        .args(args)
        .current_dir(repo())
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/images");
    let took = started.elapsed();
    assert!(output.status.success(), "scripts/images {args:?} failed");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    (took, lines)
}

async fn json_get(http: &reqwest::Client, url: &str) -> Value {
    http.get(url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Parts 1 and 2; returns the archives directory.
async fn build_and_sizes(profile: &str) -> PathBuf {
    let out = target_dir().join("images-bench");
    let archives = out.join("archives");
    let store = tempfile::tempdir().unwrap();
    let reg = registry::start(RegistryOptions::new(store.path().to_path_buf()))
        .await
        .unwrap();
    let host = reg.host();
    let (first, lines) = tokio::task::spawn_blocking({
        let (profile, out, archives, host) = (
            profile.to_string(),
            out.clone(),
            archives.clone(),
            host.clone(),
        );
        move || {
            script(
                &profile,
                &out,
                &["--push", &host, "--archives", archives.to_str().unwrap()],
            )
        }
    })
    .await
    .unwrap();
    let runs = env_u64("MKUBE_BENCH_RUNS", 3);
    let mut warm = Vec::new();
    for _ in 0..runs {
        let (profile, out, host) = (profile.to_string(), out.clone(), host.clone());
        let (took, _) =
            tokio::task::spawn_blocking(move || script(&profile, &out, &["--push", &host]))
                .await
                .unwrap();
        warm.push(took.as_secs_f64());
    }
    println!("## scripts/images (profile {profile})");
    println!("| Measurement | Result |");
    println!("|---|---|");
    println!(
        "| first run (--push + --archives; build as found) | {:.1} s |",
        first.as_secs_f64()
    );
    println!(
        "| warm build cache, --push of 4 images (median of {runs}) | {:.1} s (runs: {}) |",
        median(&mut warm.clone()),
        warm.iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!();
    println!("## Image sizes (profile {profile})");
    println!(
        "| Image | Stripped binary | docker-save archive | Archive / binary | Pushed layer (gzip) | ≤ +5 % |"
    );
    println!("|---|---|---|---|---|---|");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for line in &lines {
        let name = &line[0];
        let binary: u64 = line[3].parse().unwrap();
        let archive = std::fs::metadata(archives.join(format!("{name}.tar")))
            .unwrap()
            .len();
        let manifest = json_get(
            &http,
            &format!("{}/v2/{name}/manifests/edge", reg.base_url()),
        )
        .await;
        let pushed: u64 = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum();
        let ratio = archive as f64 / binary as f64;
        println!(
            "| {name} | {binary} B | {archive} B | {:+.3} % | {pushed} B | {} |",
            (ratio - 1.0) * 100.0,
            if ratio <= 1.05 { "yes" } else { "no" }
        );
    }
    reg.stop().await;
    archives
}

/// What part 3 starts: an image, its program, the port it answers on, its arguments for an
/// address and a data directory.
struct Case {
    image: &'static str,
    program: &'static str,
    port: u16,
    args: fn(Ipv4Addr, &str) -> Vec<String>,
}

const CASES: [Case; 3] = [
    Case {
        image: "mkube-registry",
        program: "mkube-registry",
        port: 5000,
        args: |ip, data| {
            vec![
                "--listen".into(),
                format!("{ip}:5000"),
                "--mgmt-listen".into(),
                format!("{ip}:5001"),
                "--store".into(),
                data.into(),
            ]
        },
    },
    Case {
        image: "nats",
        program: "nats-server",
        port: 4222,
        args: |ip, data| {
            vec![
                "-js".into(),
                "-sd".into(),
                data.into(),
                "-a".into(),
                ip.to_string(),
                "-p".into(),
                "4222".into(),
            ]
        },
    },
    Case {
        image: "microdns-sim",
        program: "microdns-sim",
        port: 8080,
        args: |ip, _| vec!["--listen".into(), format!("{ip}:8080")],
    },
];

/// Waits until `addr` accepts a TCP connection (polled every millisecond).
async fn accepts(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "{addr} never answered");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn closed(addr: SocketAddr) {
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Rest {
    http: reqwest::Client,
    base: String,
}

impl Rest {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth("admin", Some(""))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }
    async fn wait_flag(&self, name: &str, flag: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self
                .http
                .get(format!("{}/container?name={name}", self.base))
                .basic_auth("admin", Some(""))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap();
            if rows[0][flag] == "true" {
                return;
            }
            assert!(Instant::now() < deadline, "{name} never {flag}: {rows}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Part 3.
async fn start_latency(archives: &Path) {
    let disk = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(disk.path().join("raid1/cache")).unwrap();
    let mut opts = SimOptions::new(disk.path().to_path_buf());
    opts.run_containers = true;
    let sim = start(opts)
        .await
        .expect("routeros-sim --run-containers (root?)");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    http.patch(format!("{}/knobs", sim.control_url()))
        .json(&json!({"clockFactor": 1000.0, "startDelayMs": 0}))
        .send()
        .await
        .unwrap();
    let rest = Rest {
        http,
        base: sim.rest_url(),
    };
    let starts = env_u64("MKUBE_BENCH_STARTS", 20) as usize;
    println!();
    println!("## Start latency ({starts} pairs per image; ms; the device's start delay knob at 0)");
    println!(
        "| Image | Spawned directly: median / p95 | /container/start: median / p95 | Difference of medians | ≤ 100 ms |"
    );
    println!("|---|---|---|---|---|");
    for (i, case) in CASES.iter().enumerate() {
        let name = format!("bench_{}", case.image.replace('-', "_"));
        let (ip, direct_ip) = (
            Ipv4Addr::new(127, 77, 0, 2 + i as u8),
            Ipv4Addr::new(127, 78, 0, 2 + i as u8),
        );
        let file = format!("raid1/cache/{}.tar", case.image);
        std::fs::copy(
            archives.join(format!("{}.tar", case.image)),
            disk.path().join(&file),
        )
        .unwrap();
        rest.call(
            reqwest::Method::PUT,
            "/interface/veth",
            json!({"name": format!("veth-{name}"), "address": format!("{ip}/24"),
                "gateway": "127.77.0.1"}),
        )
        .await;
        let cmd = (case.args)(ip, "/data").join(" ");
        rest.call(
            reqwest::Method::PUT,
            "/container",
            json!({"name": name, "file": file, "interface": format!("veth-{name}"),
                "root-dir": format!("raid1/images/{name}"), "cmd": cmd}),
        )
        .await;
        rest.wait_flag(&name, "stopped").await;
        let binary = disk
            .path()
            .join(format!("raid1/images/{name}/{}", case.program));
        let data = tempfile::tempdir().unwrap();
        let direct_args = (case.args)(direct_ip, data.path().to_str().unwrap());
        let (mut direct, mut contained) = (Vec::new(), Vec::new());
        for _ in 0..starts {
            let addr = SocketAddr::from((direct_ip, case.port));
            let t0 = Instant::now();
            let mut child: Child = Command::new(&binary)
                .args(&direct_args)
                .env_clear()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            accepts(addr).await;
            direct.push(t0.elapsed().as_secs_f64() * 1000.0);
            child.kill().unwrap();
            child.wait().unwrap();
            closed(addr).await;

            let addr = SocketAddr::from((ip, case.port));
            let t0 = Instant::now();
            rest.call(
                reqwest::Method::POST,
                "/container/start",
                json!({"numbers": name}),
            )
            .await;
            accepts(addr).await;
            contained.push(t0.elapsed().as_secs_f64() * 1000.0);
            rest.call(
                reqwest::Method::POST,
                "/container/stop",
                json!({"numbers": name}),
            )
            .await;
            rest.wait_flag(&name, "stopped").await;
            closed(addr).await;
        }
        let (d, c) = (median(&mut direct), median(&mut contained));
        println!(
            "| {} | {d:.1} / {:.1} | {c:.1} / {:.1} | {:.1} | {} |",
            case.image,
            p95(&mut direct),
            p95(&mut contained),
            c - d,
            if c - d <= 100.0 { "yes" } else { "no" }
        );
    }
    sim.stop().await;
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    mkube::tls::ensure_ring_provider();
    let profile = std::env::var("MKUBE_BENCH_IMAGE_PROFILE").unwrap_or_else(|_| "image".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let archives = build_and_sizes(&profile).await;
        start_latency(&archives).await;
    });
}
