//! A bare simulated device that runs containers as processes, an upstream `mkube-registry`
//! holding the site images (put there with skopeo), and `mkube-installer` run as its binary.
//! Shared by the installer tests and the installer bench.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output};

use mkube::registry::{self, RegistryOptions};
use mkube::sim::routeros::SimOptions;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::images_support::{archives, probe_archive};
use crate::registry_support::skopeo;
use crate::sim_common::{Sim, start_with};

pub const BRIDGE: &str = "bridge-site";

/// The site images the upstream holds: (name, archive). With `real_updater` false the probe
/// program (static, `stay` keeps it running) stands in for mkube-update, so the installer's own
/// tests see a quiet device (no bootstrap of mkube under way while they count writes).
fn upstream_images(real_updater: bool) -> Vec<(&'static str, PathBuf)> {
    let a = archives();
    let updater = if real_updater {
        a.join("mkube-update.tar")
    } else {
        stand_in_archive()
    };
    vec![
        ("mkube-registry", a.join("mkube-registry.tar")),
        ("nats", a.join("nats.tar")),
        ("mkube", a.join("mkube.tar")),
        ("mkube-update", updater),
    ]
}

/// A copy of the docker-save archive `src` with one more layer holding `/build-id` = `id`:
/// the same program under a new digest, as a new build of it would be.
pub fn rebuilt_archive(src: &std::path::Path, id: &str) -> PathBuf {
    rebuilt_archive_with(src, id, |_| {})
}

/// [`rebuilt_archive`] with the image's config edited by `edit` (the whole config JSON: its
/// `config.Cmd`, `config.Entrypoint`, …), e.g. a build of mkube that exits at once.
pub fn rebuilt_archive_with(
    src: &std::path::Path,
    id: &str,
    edit: impl FnOnce(&mut Value),
) -> PathBuf {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(src).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        entries.push((path, data));
    }
    let get = |name: &str| {
        entries
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("{name} not in {}", src.display()))
    };
    let mut manifest: Value = serde_json::from_slice(&get("manifest.json")).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: Value = serde_json::from_slice(&get(&config_name)).unwrap();
    edit(&mut config);
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(id.len() as u64);
    h.set_mtime(0);
    layer
        .append_data(&mut h, "build-id", id.as_bytes())
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(Value::String(diff_id));
    let config_bytes = config.to_string().into_bytes();
    let new_config = format!("{}.json", hex::encode(Sha256::digest(&config_bytes)));
    manifest[0]["Config"] = Value::String(new_config.clone());
    manifest[0]["Layers"]
        .as_array_mut()
        .unwrap()
        .push(Value::String("build-id/layer.tar".into()));
    entries.retain(|(p, _)| p != "manifest.json" && *p != config_name);
    entries.push((new_config, config_bytes));
    entries.push(("build-id/layer.tar".into(), layer));
    entries.push(("manifest.json".into(), manifest.to_string().into_bytes()));
    let dir = tempfile::Builder::new()
        .prefix("rebuilt")
        .tempdir()
        .unwrap()
        .keep();
    let mut outer = tar::Builder::new(Vec::new());
    for (name, data) in &entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        outer.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    let path = dir.join(src.file_name().unwrap());
    std::fs::write(&path, outer.into_inner().unwrap()).unwrap();
    path
}

/// A docker-save archive of the probe program that skopeo accepts (its config names the
/// layer's diff id): entrypoint `/probe`, cmd `stay`. Stands in for mkube-update, and is the
/// light pod image of the self-hosted boot bench.
pub fn stand_in_archive() -> PathBuf {
    let probe = probe_archive().with_file_name("probe");
    let dir = tempfile::Builder::new()
        .prefix("stand-in")
        .tempdir()
        .unwrap()
        .keep();
    let mut layer = tar::Builder::new(Vec::new());
    let bin = std::fs::read(&probe).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(bin.len() as u64);
    h.set_mtime(0);
    layer.append_data(&mut h, "probe", bin.as_slice()).unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/probe"], "Cmd": ["stay"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string();
    let manifest = serde_json::json!([{"Config": "config.json",
        "RepoTags": ["mkube-update:edge"], "Layers": ["layer/layer.tar"]}])
    .to_string();
    let mut outer = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("manifest.json", manifest.as_bytes()),
        ("config.json", config.as_bytes()),
        ("layer/layer.tar", layer.as_slice()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        outer.append_data(&mut h, name, data).unwrap();
    }
    let path = dir.join("stand-in.tar");
    std::fs::write(&path, outer.into_inner().unwrap()).unwrap();
    path
}

/// A loopback /24 of its own: the registry at .3, mkube .2, mkube-update .5, NATS .10, with
/// their ports free.
pub fn site_net() -> [u8; 3] {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for i in 0..50u64 {
        let n = seed.wrapping_add(i * 7919);
        let net = [127, 130 + (n % 60) as u8, (n / 60 % 250) as u8 + 2];
        let free = [
            (3, 5000),
            (3, 5001),
            (10, 4222),
            (10, 8222),
            (2, 8082),
            (5, 8081),
        ]
        .iter()
        .all(|(host, port)| {
            let ip = Ipv4Addr::new(net[0], net[1], net[2], *host);
            TcpListener::bind(SocketAddr::from((ip, *port))).is_ok()
        });
        if free {
            return net;
        }
    }
    panic!("no free loopback /24");
}

pub struct Site {
    pub sim: Sim,
    pub upstream: registry::RunningRegistry,
    pub net: [u8; 3],
    _store: tempfile::TempDir,
}

impl Site {
    /// A bare process-running device with one bridge, and an upstream holding the images
    /// (the probe standing in for mkube-update).
    pub async fn start() -> Site {
        Site::start_with(false).await
    }

    /// The same with mkube-update's real image, so the installed site bootstraps mkube.
    pub async fn start_with(real_updater: bool) -> Site {
        let store = tempfile::tempdir().unwrap();
        let upstream = registry::start(RegistryOptions::new(store.path().join("store")))
            .await
            .unwrap();
        for (name, archive) in upstream_images(real_updater) {
            let src = format!("docker-archive:{}", archive.display());
            let dst = format!("docker://{}/{name}:edge", upstream.host());
            skopeo(&["copy", "--quiet", "--dest-tls-verify=false", &src, &dst]);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SimOptions::new(dir.path().join("disk"));
        opts.run_containers = true;
        let sim = start_with(opts, dir).await;
        std::fs::create_dir_all(sim.disk().join("raid1")).unwrap();
        sim.seed_bridge(BRIDGE).await;
        Site {
            sim,
            upstream,
            net: site_net(),
            _store: store,
        }
    }

    pub fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.net[0], self.net[1], self.net[2], host)
    }

    pub fn registry_host(&self) -> String {
        format!("{}:5000", self.ip(3))
    }

    /// mkube's device configuration for this site, as an operator would give it to the
    /// installer (`--mkube-config`): network `gt` on the bridge, pods from .100 to .250.
    pub fn mkube_config(&self) -> String {
        let ip = |h| self.ip(h);
        format!(
            "nodeName: selfhosted\n\
             standalone: true\n\
             backend: routeros\n\
             routeros:\n  restUrl: \"{rest}\"\n  user: admin\n  password: \"\"\n\
             networks:\n  - name: gt\n    bridge: {BRIDGE}\n    cidr: \"{net}.0/24\"\n    gateway: \"{gw}\"\n    ipamStart: \"{net}.100\"\n    ipamEnd: \"{net}.250\"\n\
             storage:\n  basePath: /raid1/images\n  tarballCache: /raid1/cache\n  selfRootDir: raid1/images/kube.gt.lo\n  configMapPath: /data/configmaps\n  persistentMounts:\n    - {{containerPath: /raid1/cache, hostPath: raid1/cache}}\n    - {{containerPath: /data, hostPath: raid1/volumes/kube.gt.lo/data}}\n\
             registry:\n  enabled: false\n  tlsCACertFile: /etc/mkube/registry-ca.crt\n  localAddresses: [\"{reg}\"]\n\
             nats:\n  url: \"nats://{nats}:4222\"\n\
             api:\n  listen: \"{mkube}:8082\"\n\
             update:\n  listen: \"{mkube}:8080\"\n  updaterURL: \"http://{updater}:8081\"\n",
            rest = self.sim.sim.rest_url(),
            net = format!("{}.{}.{}", self.net[0], self.net[1], self.net[2]),
            gw = ip(1),
            reg = self.registry_host(),
            nats = ip(10),
            mkube = ip(2),
            updater = ip(5),
        )
    }

    /// The installer's flags for this site (loopback everywhere), plus `extra` (which replaces a
    /// default of the same flag).
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let up = self.upstream.host();
        let mut a: Vec<String> = [
            "--device",
            "127.0.0.1",
            "--rest-url",
            &self.sim.sim.rest_url(),
            "--ros-user",
            "admin",
            "--ros-password",
            "",
            "--upstream",
            &up,
            "--seed",
            "mkube-registry,nats,mkube-update,mkube",
            "--bridge",
            BRIDGE,
            "--gateway",
            "127.0.0.1",
            "--dns",
            "127.0.0.1",
            "--arch",
            "amd64",
            "--container-rest-url",
            &self.sim.sim.rest_url(),
            "--serve-address",
            "127.0.0.1:0",
            "--health-timeout",
            "30",
            "--extract-timeout",
            "60",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (flag, host) in [
            ("--registry-ip", 3),
            ("--mkube-ip", 2),
            ("--mkube-update-ip", 5),
            ("--nats-ip", 10),
        ] {
            a.push(flag.into());
            a.push(self.ip(host).to_string());
        }
        // A flag given in `extra` replaces the default pair.
        let mut out = Vec::new();
        let mut i = 0;
        while i < a.len() {
            let overridden = a[i].starts_with("--") && extra.contains(&a[i].as_str());
            let pair = i + 1 < a.len() && !a[i + 1].starts_with("--") || a[i] == "--ros-password";
            if !overridden {
                out.push(a[i].clone());
                if pair {
                    out.push(a[i + 1].clone());
                }
            }
            i += if pair { 2 } else { 1 };
        }
        out.extend(extra.iter().map(|s| s.to_string()));
        out
    }

    /// Runs `mkube-installer` with this site's flags plus `extra`.
    pub fn install(&self, extra: &[&str]) -> Installed {
        let out = Command::new(env!("CARGO_BIN_EXE_mkube-installer"))
            .args(self.args(extra))
            .env("RUST_LOG", "warn")
            .output()
            .expect("run mkube-installer");
        Installed(out)
    }

    /// A control call on a fresh connection (the installer runs long enough for the
    /// simulator to close idle ones).
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.sim.sim.control_url());
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = fresh_client().request(m, url);
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

    /// The writes among the journal's entries since it was last cleared.
    pub async fn journal_writes(&self) -> Vec<String> {
        let j = self.control("GET", "/journal", None).await;
        j.as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let m = e["method"].as_str().unwrap_or("");
                let p = e["path"].as_str().unwrap_or("");
                m != "GET" && !p.ends_with("/print")
            })
            .map(|e| format!("{} {}", e["method"], e["path"]))
            .collect()
    }

    pub async fn journal_reads(&self) -> usize {
        let j = self.control("GET", "/journal", None).await;
        j.as_array().unwrap().len() - self.journal_writes().await.len()
    }

    pub async fn clear_journal(&self) {
        self.control("DELETE", "/journal", None).await;
    }

    pub fn disk_file(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.sim.disk().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// `GET /rest<menu>` on a fresh connection.
    pub async fn rows(&self, menu: &str) -> Vec<Value> {
        let url = format!("{}{menu}", self.sim.sim.rest_url());
        let resp = fresh_client()
            .get(url)
            .basic_auth("admin", Some(""))
            .send()
            .await
            .expect("rest request");
        assert_eq!(resp.status(), 200, "{menu}");
        let v: Value = resp.json().await.unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    /// `POST /rest<path>` with `body` on a fresh connection; panics unless it succeeds.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.sim.sim.rest_url());
        let resp = fresh_client()
            .post(url)
            .basic_auth("admin", Some(""))
            .json(&body)
            .send()
            .await
            .expect("rest request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path} {body}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A finished installer run.
pub struct Installed(pub Output);

impl Installed {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Panics with the whole output unless the run exited 0.
    pub fn ok(self) -> Installed {
        assert_eq!(
            self.code(),
            0,
            "installer failed:\n{}\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}
