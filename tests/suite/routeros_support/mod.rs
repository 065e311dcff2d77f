//! Shared harness for the RouterOS client tests: a simulator on loopback,
//! its control API, tarball builders and journal helpers.
//! Declared once in `main.rs`; the `routeros_*` modules use it.

#![allow(dead_code)]

use mkube::routeros::{ClientOptions, Pacing, RosClient, tls_client_config};
use mkube::sim::routeros::{Profile, RunningSim, SimOptions, start};
use serde_json::{Value, json};
use std::path::Path;

/// Client pacing against a simulator running 50× faster.
pub const PACING: f64 = 0.02;
pub const CLOCK: f64 = 50.0;

pub struct Harness {
    pub sim: RunningSim,
    pub dir: tempfile::TempDir,
    pub ctl: reqwest::Client,
}

/// One journal line: method, path (without `/rest`), query, body, status.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub status: u16,
}

impl Call {
    /// `"POST /container/add"` or `"GET /container?name=x"`.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }

    pub fn field(&self, key: &str) -> &str {
        self.body.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

impl Harness {
    pub async fn start(profile: Profile) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = start(SimOptions {
            profile,
            ..SimOptions::new(dir.path().to_path_buf())
        })
        .await
        .expect("simulator starts");
        let ctl = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_client_config(true, None).expect("tls"))
            .build()
            .expect("control client");
        let h = Harness { sim, dir, ctl };
        h.knobs(json!({"clockFactor": CLOCK})).await;
        h.seed(json!({"bridges": ["b1", "b2"]})).await;
        std::fs::create_dir_all(h.dir.path().join("raid1/cache")).expect("cache dir");
        std::fs::create_dir_all(h.dir.path().join("raid1/images")).expect("images dir");
        h
    }

    pub fn options(&self) -> ClientOptions {
        let mut o = ClientOptions::new(self.sim.rest_url(), "admin", "");
        o.pacing = Pacing::scaled(PACING);
        o
    }

    pub async fn client(&self) -> RosClient {
        let c = RosClient::connect(self.options())
            .await
            .expect("client connects");
        self.clear_journal().await;
        c
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/{}", self.sim.control_url(), path);
        let mut req = self.ctl.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control call");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "control {path}: {status} {v}");
        v
    }

    pub async fn knobs(&self, v: Value) {
        self.control(reqwest::Method::PATCH, "knobs", Some(v)).await;
    }

    pub async fn fault(&self, v: Value) {
        self.control(reqwest::Method::POST, "faults", Some(v)).await;
    }

    pub async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "faults", None).await;
    }

    pub async fn seed(&self, v: Value) {
        self.control(reqwest::Method::POST, "seed", Some(v)).await;
    }

    pub async fn crash(&self, name: &str) {
        self.control(
            reqwest::Method::POST,
            &format!("containers/{name}/crash"),
            None,
        )
        .await;
    }

    pub async fn clear_journal(&self) {
        self.control(reqwest::Method::DELETE, "journal", None).await;
    }

    pub async fn journal(&self) -> Vec<Call> {
        let v = self.control(reqwest::Method::GET, "journal", None).await;
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| Call {
                method: e["method"].as_str().unwrap_or("").to_string(),
                path: e["path"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("/rest")
                    .to_string(),
                query: e["query"].as_str().unwrap_or("").to_string(),
                body: e["body"].clone(),
                status: e["status"].as_u64().unwrap_or(0) as u16,
            })
            .collect()
    }

    /// Journal lines with consecutive repeats (polls) collapsed.
    pub async fn lines(&self) -> Vec<String> {
        collapse(&self.journal().await)
    }

    /// Writes a tiny docker-save tarball at `raid1/cache/<name>.tar`;
    /// returns the device path.
    pub fn tarball(&self, name: &str, marker: &str) -> String {
        let rel = format!("raid1/cache/{name}.tar");
        write_tarball(&self.dir.path().join(&rel), marker);
        rel
    }

    pub fn disk(&self) -> &Path {
        self.dir.path()
    }
}

/// Consecutive identical lines collapsed into one.
pub fn collapse(calls: &[Call]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in calls {
        let l = c.line();
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    out
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, path, data)
        .expect("tar append");
}

/// A docker-save archive with one layer holding `/hello.txt` = `marker`.
pub fn write_tarball(path: &Path, marker: &str) {
    let mut layer = tar::Builder::new(Vec::new());
    append(&mut layer, "hello.txt", marker.as_bytes());
    let layer = layer.into_inner().expect("layer tar");
    let mut outer = tar::Builder::new(Vec::new());
    append(
        &mut outer,
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["t:1"],"Layers":["l1/layer.tar"]}]"#,
    );
    append(&mut outer, "c.json", b"{}");
    append(&mut outer, "l1/layer.tar", &layer);
    let bytes = outer.into_inner().expect("outer tar");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write tarball");
}
