//! Shared helpers for the RouterOS simulator tests: start a simulator on a temp disk root,
//! talk to it over real HTTP, build tiny docker-save archives.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use mkube::sim::routeros::{self, Profile, RunningSim, SimOptions};
use serde_json::{Value, json};

pub struct Sim {
    pub sim: RunningSim,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

/// A simulator with accelerated clock (×1000) so lifecycles take milliseconds.
pub async fn start(profile: Profile) -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = SimOptions::new(dir.path().join("disk"));
    opts.profile = profile;
    start_with(opts, dir).await
}

pub async fn start_with(opts: SimOptions, dir: tempfile::TempDir) -> Sim {
    let sim = routeros::start(opts).await.expect("simulator starts");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()
        .expect("client");
    let s = Sim { sim, dir, http };
    s.knobs(json!({"clockFactor": 1000.0})).await;
    s
}

impl Sim {
    pub fn disk(&self) -> std::path::PathBuf {
        self.dir.path().join("disk")
    }

    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{}", self.sim.rest_url(), path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, url).basic_auth("admin", Some(""));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.rest("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.rest("POST", path, Some(body)).await
    }

    /// POST expecting success; returns the reply.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.post(path, body.clone()).await;
        assert_eq!(s, 200, "POST {path} {body} → {v}");
        v
    }

    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.sim.control_url(), path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("control request");
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn knobs(&self, patch: Value) -> Value {
        self.control("PATCH", "/knobs", Some(patch)).await
    }

    pub async fn seed_bridge(&self, name: &str) {
        self.control("POST", "/seed", Some(json!({"bridges": [name]})))
            .await;
    }

    /// The container row with this name, if listed.
    pub async fn container(&self, name: &str) -> Option<Value> {
        let (s, v) = self.get(&format!("/container?name={name}")).await;
        assert_eq!(s, 200);
        v.as_array().and_then(|a| a.first().cloned())
    }

    /// Polls until `pred` holds for the container row (None = row gone).
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = self.container(name).await;
            if pred(row.as_ref()) {
                return row;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {name}: {what}; last {row:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn wait_flag(&self, name: &str, flag: &str) -> Value {
        self.wait_for(name, flag, |r| {
            r.and_then(|r| r.get(flag)).and_then(|v| v.as_str()) == Some("true")
        })
        .await
        .expect("row")
    }

    pub async fn wait_gone(&self, name: &str) {
        self.wait_for(name, "gone", |r| r.is_none()).await;
    }

    pub async fn logs(&self) -> Vec<Value> {
        let (_, v) = self.get("/log").await;
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn stop(self) {
        self.sim.stop().await;
    }
}

pub fn flag(row: &Value, name: &str) -> bool {
    row.get(name).and_then(|v| v.as_str()) == Some("true")
}

pub fn s<'a>(row: &'a Value, key: &str) -> &'a str {
    row.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// Writes a docker-save archive (manifest.json + one layer holding `files`).
pub fn docker_tar(path: &Path, files: &[(&str, &[u8])]) {
    fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    }
    let mut layer = tar::Builder::new(Vec::new());
    for (name, data) in files {
        add(&mut layer, name, data);
    }
    let layer = layer.into_inner().expect("layer");
    let config = br#"{"architecture":"arm64","os":"linux","config":{"Cmd":["/bin/app"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest =
        br#"[{"Config":"cfg.json","RepoTags":["test/app:latest"],"Layers":["l1/layer.tar"]}]"#;
    let mut outer = tar::Builder::new(Vec::new());
    add(&mut outer, "manifest.json", manifest);
    add(&mut outer, "cfg.json", config);
    add(&mut outer, "l1/layer.tar", &layer);
    add(&mut outer, "l1/VERSION", b"1.0");
    let bytes = outer.into_inner().expect("outer");
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write tar");
}

/// Bridge + veth + tarball, ready for `/container/add`.
pub async fn prepare(sim: &Sim, veth: &str, tar_rel: &str) {
    sim.seed_bridge("containers").await;
    sim.ok(
        "/interface/veth/add",
        json!({"name": veth, "address": "127.42.0.2/24", "gateway": "127.42.0.1"}),
    )
    .await;
    docker_tar(
        &sim.disk().join(tar_rel),
        &[
            ("bin/app", b"#!/bin/sh\necho hi\n"),
            ("etc/hostname", b"app\n"),
        ],
    );
}

pub async fn start_profile(p: &str) -> Sim {
    start(p.parse().expect("profile")).await
}
