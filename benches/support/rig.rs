//! The pieces the pods and consistency benches share: the RouterOS simulator as a device
//! (journal, state file, knobs), the release `mkube` binary as `mkube run` starts it (with its
//! `/proc` memory figures), and percentile helpers. Included with `#[path]`.
#![allow(dead_code)]

#[path = "tiny_image.rs"]
mod tiny_image_support;

use crate::nats::free_port;
use mkube::sim::routeros::{RunningSim, SimOptions, start};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tiny_image_support::tiny_image;

pub const TARBALL: &str = "raid1/cache/app.tar";

/// mkube's configuration for the benches: node `bench-node`, one network `t` with room for 241
/// addresses whose zone `t.lo` is on `dns`; callers append `lifecycle:` and the like.
pub fn config_yaml(nats: &str, rest: &str, standalone: bool, dns: &str, listen: &str) -> String {
    assert!(rest.starts_with("http://127.0.0.1:"), "loopback only");
    assert!(dns.starts_with("http://127.0.0.1:"), "loopback only");
    format!(
        r#"
nodeName: bench-node
standalone: {standalone}
routeros: {{restUrl: "{rest}", user: admin, password: ""}}
networks:
  - name: t
    bridge: t
    cidr: 127.77.0.0/24
    gateway: 127.77.0.1
    ipamStart: 127.77.0.10
    ipamEnd: 127.77.0.250
    dns: {{endpoint: "{dns}", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
nats: {{url: "{nats}", snapshotEvery: 1000}}
storage: {{basePath: /raid1/images}}
api: {{listen: "{listen}"}}
"#
    )
}

pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Device {
    pub sim: RunningSim,
    _disk: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

impl Device {
    /// A device on a disk of its own (a docker-save tarball at `TARBALL`), bridge `t` seeded.
    pub async fn start(latency_ms: u64, serial: bool, clock: f64) -> Device {
        let disk = tempfile::tempdir().unwrap();
        let mut d = Device::start_at(disk.path(), None, latency_ms, serial, clock).await;
        d._disk = Some(disk);
        d
    }

    /// A device on `disk` (kept by the caller), its tables kept in `state` when given: a
    /// device started again on the same disk and state file has what the first one left
    /// (a restart reboots it: start-on-boot containers start again).
    pub async fn start_at(
        disk: &Path,
        state: Option<PathBuf>,
        latency_ms: u64,
        serial: bool,
        clock: f64,
    ) -> Device {
        std::fs::create_dir_all(disk.join("raid1/cache")).unwrap();
        std::fs::create_dir_all(disk.join("raid1/images")).unwrap();
        if !disk.join(TARBALL).exists() {
            tiny_image(&disk.join(TARBALL));
        }
        let sim = start(SimOptions {
            latency: Duration::from_millis(latency_ms),
            serial,
            state_file: state,
            ..SimOptions::new(disk.to_path_buf())
        })
        .await
        .unwrap();
        let d = Device {
            sim,
            _disk: None,
            http: reqwest::Client::new(),
        };
        d.control(
            reqwest::Method::PATCH,
            "knobs",
            json!({"clockFactor": clock}),
        )
        .await;
        d.control(reqwest::Method::POST, "seed", json!({"bridges": ["t"]}))
            .await;
        d
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/{path}", self.sim.control_url()));
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "control {path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    pub async fn clear_journal(&self) {
        self.control(reqwest::Method::DELETE, "journal", Value::Null)
            .await;
    }

    pub async fn journal(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "journal", Value::Null)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `/container` rows as the REST API lists them (journalled: call it outside a window).
    pub async fn containers(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/container", self.sim.rest_url()))
            .basic_auth("admin", Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub fn is_running(row: &Value) -> bool {
    row["running"].as_str() == Some("true") || row["status"].as_str() == Some("running")
}

/// `GET /container?name=…` → `GET /container?name`; ids in paths → `*`.
pub fn class(e: &Value) -> String {
    let method = e["method"].as_str().unwrap_or("");
    let path = e["path"].as_str().unwrap_or("").trim_start_matches("/rest");
    let path: Vec<&str> = path
        .split('/')
        .map(|s| if s.starts_with('*') { "*" } else { s })
        .collect();
    let query = e["query"].as_str().unwrap_or("");
    let keys: Vec<&str> = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| q.split('=').next().unwrap_or(""))
        .collect();
    if keys.is_empty() {
        format!("{method} {}", path.join("/"))
    } else {
        format!("{method} {}?{}", path.join("/"), keys.join("&"))
    }
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

pub fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "no" }
}

pub struct Mkube {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl Mkube {
    pub async fn start(yaml_for: impl Fn(&str) -> String) -> Mkube {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let conf = dir.path().join("config.yaml");
        std::fs::write(&conf, yaml_for(&listen)).unwrap();
        let log = std::fs::File::create(dir.path().join("mkube.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mkube"))
            .arg("run")
            .arg("--config")
            .arg(&conf)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let m = Mkube {
            child,
            base: format!("http://{listen}"),
            dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = http
                .get(format!("{}/readyz", m.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "mkube did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        m
    }

    pub fn status(&self) -> (u64, u64) {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb = |key: &str| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }
}

impl Mkube {
    /// SIGTERM, as a supervisor stops it (a final snapshot is written); waits for the exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Mkube {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
