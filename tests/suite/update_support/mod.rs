//! A site for the mkube-update and update-API tests: a real routeros-sim (clock ×1000), a real
//! mkube-registry on loopback (with its management listener and push events), images pushed
//! over the OCI distribution protocol, and an updater configuration pointing at both.
#![allow(dead_code)]

use crate::registry_support::{E, TAR_LAYER, http_client, layer, push_image};
use crate::sim_common::{self, Sim};
use mkube::registry::{self, RegistryOptions, RunningRegistry};
use mkube::sim::routeros::SimOptions;
use mkube::update::{UpdateConfig, Updater};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The updater's data directory as the device names it (its mount's `src`).
pub const DATA_DEVICE: &str = "raid1/volumes/mkube-update-updater/data";

pub struct Site {
    pub sim: Sim,
    pub registry: RunningRegistry,
    pub http: reqwest::Client,
    _store: tempfile::TempDir,
}

impl Site {
    pub async fn start() -> Site {
        Site::start_with(false).await
    }

    pub async fn start_with(run_containers: bool) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SimOptions::new(dir.path().join("disk"));
        opts.run_containers = run_containers;
        let sim = sim_common::start_with(opts, dir).await;
        sim.seed_bridge("bridge-gt").await;
        let store = tempfile::tempdir().unwrap();
        let mut ropts = RegistryOptions::new(store.path().join("store"));
        ropts.mgmt_listen = Some("127.0.0.1:0".parse().unwrap());
        let registry = registry::start(ropts).await.unwrap();
        Site {
            sim,
            registry,
            http: http_client(),
            _store: store,
        }
    }

    /// `<ip>:<port>` of the registry, as image references name it.
    pub fn host(&self) -> String {
        self.registry
            .base_url()
            .trim_start_matches("http://")
            .to_string()
    }

    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.host())
    }

    /// Pushes `repo:tag` (arm64, one layer holding `/marker` = `marker`); its digest.
    pub async fn push(&self, repo: &str, tag: &str, marker: &str) -> String {
        let l = layer(&[E::File("marker", marker), E::Exec("bin/app", "#!/bin/sh\n")]);
        let base = self.registry.base_url();
        let (digest, body) = push_image(&self.http, &base, repo, "arm64", &[(l, TAR_LAYER)]).await;
        crate::registry_support::push_manifest(
            &self.http,
            &base,
            repo,
            tag,
            crate::registry_support::OCI_MANIFEST,
            &body,
        )
        .await;
        digest
    }

    /// A veth on the bridge for a container.
    pub async fn veth(&self, name: &str, ip: &str) {
        self.sim
            .ok(
                "/interface/veth/add",
                json!({"name": name, "address": format!("{ip}/24"), "gateway": "127.42.0.1"}),
            )
            .await;
    }

    /// Creates and starts a container as the installer does (remote image), plus `extra`
    /// properties; waits until it runs.
    pub async fn container(&self, name: &str, image: &str, extra: Value) -> Value {
        let veth = format!("veth-{name}");
        self.veth(&veth, &format!("127.42.0.{}", 10 + self.count().await))
            .await;
        let mut body = json!({
            "name": name, "remote-image": image, "check-certificate": "no",
            "interface": veth, "root-dir": format!("/raid1/images/{name}"),
            "logging": "yes", "start-on-boot": "yes",
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        self.sim.ok("/container/add", body).await;
        let row = self.sim.wait_flag(name, "stopped").await;
        self.sim
            .ok("/container/start", json!({".id": row[".id"]}))
            .await;
        self.sim.wait_flag(name, "running").await
    }

    async fn count(&self) -> usize {
        let (_, v) = self.sim.get("/interface/veth").await;
        v.as_array().map_or(0, |a| a.len())
    }

    pub async fn row(&self, name: &str) -> Option<Value> {
        self.sim.container(name).await
    }

    /// How many rows carry `name`.
    pub async fn rows_named(&self, name: &str) -> usize {
        let (_, v) = self.sim.get("/container").await;
        v.as_array()
            .map_or(0, |a| a.iter().filter(|r| r["name"] == name).count())
    }

    /// What the container's root-dir holds at `/marker`.
    pub fn marker(&self, row: &Value) -> String {
        let root = row["root-dir"].as_str().unwrap_or("");
        std::fs::read_to_string(self.sim.disk().join(root).join("marker")).unwrap_or_default()
    }

    /// The data directory (inside the sim's disk, where the device sees it as
    /// [`DATA_DEVICE`]).
    pub fn data_dir(&self) -> PathBuf {
        self.sim.disk().join(DATA_DEVICE)
    }

    /// Device calls recorded since the last [`Site::clear_journal`]: `(method, path, body)`.
    pub async fn journal(&self) -> Vec<(String, String, Value)> {
        let v = self.sim.control("GET", "/journal", None).await;
        v.as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e["method"].as_str().unwrap_or("").to_string(),
                    e["path"]
                        .as_str()
                        .unwrap_or("")
                        .trim_start_matches("/rest")
                        .to_string(),
                    e["body"].clone(),
                )
            })
            .collect()
    }

    /// The POSTs of the journal (the writes), as `path`.
    pub async fn writes(&self) -> Vec<(String, Value)> {
        self.journal()
            .await
            .into_iter()
            .filter(|(m, _, _)| m == "POST")
            .map(|(_, p, b)| (p, b))
            .collect()
    }

    pub async fn clear_journal(&self) {
        self.sim.control("DELETE", "/journal", None).await;
    }

    /// An updater configuration for this site: fast pacing, a short health window, events
    /// off (tests run cycles themselves), bootstrap off; `extra` is YAML appended.
    pub fn config_text(&self, extra: &str) -> String {
        format!(
            "registryURL: {}\nrouterosURL: {}\nrouterosUser: admin\nrouterosPassword: \"\"\nmkubeAPI: http://127.0.0.1:9\npollSeconds: 3600\nregistryCACert: /nonexistent\nlisten: 127.0.0.1:0\ndataDir: {}\neventsURL: \"off\"\nhealthSeconds: 0.3\npacing: 0.01\nbootstrap:\n  enabled: false\n  tarballDir: {}\n  tarballDeviceDir: {DATA_DEVICE}\n{extra}",
            self.registry.base_url(),
            self.sim.sim.rest_url(),
            self.data_dir().display(),
            self.data_dir().display(),
        )
    }

    pub fn config(&self, extra: &str) -> UpdateConfig {
        mkube::update::config::parse(&self.config_text(extra)).expect("updater config")
    }

    pub async fn updater(&self, extra: &str) -> Updater {
        Updater::connect(self.config(extra))
            .await
            .expect("updater connects")
    }

    /// The updater's record file.
    pub fn record(&self) -> mkube::update::record::Record {
        mkube::update::record::RecordFile::new(&self.data_dir())
            .load()
            .unwrap()
    }

    pub async fn knobs(&self, patch: Value) {
        self.sim.knobs(patch).await;
    }
}

pub fn s(row: &Value, key: &str) -> String {
    row[key].as_str().unwrap_or("").to_string()
}

/// mkube's update API (the real listener and updater actor of `mkube run`) for this site's
/// device, on a free loopback port; `self_container` is handed to `updater_url`.
pub struct UpdateApi {
    pub base: String,
    pub marks: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

impl UpdateApi {
    pub async fn start(site: &Site, self_container: &str, updater_url: &str) -> UpdateApi {
        use actix::Actor as _;
        let mut cfg = mkube::config::Config::default();
        cfg.routeros.rest_url = site.sim.sim.rest_url();
        cfg.routeros.user = "admin".into();
        cfg.routeros.password = String::new();
        cfg.routeros.pacing = 0.01;
        let marks = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", crate::registry_support::free_port());
        cfg.update = mkube::config::UpdateApiConfig {
            listen: listen.clone(),
            self_container: self_container.into(),
            updater_url: updater_url.into(),
            mark_dir: marks.path().display().to_string(),
            health_seconds: 0.3,
        };
        let link = mkube::actors::device::DeviceLink::new(&cfg);
        let actor = mkube::actors::updater::UpdaterActor::new(link, &cfg.update).start();
        let server = mkube::api::update::server(&listen, actor).expect("bind update API");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        UpdateApi {
            base: format!("http://{listen}"),
            marks,
            handle,
        }
    }

    /// POSTs `body` (raw) to `/api/v1/update-container`: (status, JSON answer).
    pub async fn post(&self, body: &str) -> (u16, Value) {
        let r = http_client()
            .post(format!("{}/api/v1/update-container", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("update API answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

impl Site {
    /// An updater whose `bootstrap` block is `bootstrap` (YAML, top level).
    pub async fn updater_with_bootstrap(&self, bootstrap: &str) -> Updater {
        self.updater_with_bootstrap_and(bootstrap, "").await
    }

    /// [`Site::updater_with_bootstrap`] with `extra` YAML (e.g. watches) appended.
    pub async fn updater_with_bootstrap_and(&self, bootstrap: &str, extra: &str) -> Updater {
        let text = self.config_text(extra);
        let start = text.find("bootstrap:\n").unwrap();
        let end = text[start..].find("\n  tarballDeviceDir").unwrap() + start;
        let end = end + text[end + 1..].find('\n').unwrap() + 2;
        let text = format!("{}{}{}", &text[..start], bootstrap, &text[end..]);
        let cfg = mkube::update::config::parse(&text).expect("config");
        let mut cfg = cfg;
        cfg.bootstrap.tarball_dir = self.data_dir().display().to_string();
        Updater::connect(cfg).await.expect("updater connects")
    }
}
