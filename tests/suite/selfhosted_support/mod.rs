//! The installed self-hosted site of issue 15, as the end-to-end tests drive it: a bare
//! process-running device ([`Site`]) through `mkube-installer` until mkube-update has
//! bootstrapped mkube and mkube answers on its container address; plus what those tests ask of
//! it: waits that report the device's state on time-out, pushes to the device's registry with
//! skopeo, mkube-update's record, and the updater's process inside the device.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::installer_support::Site;
use crate::registry_support::skopeo;

/// The bootstrapped mkube's container, and mkube-update's own (images.md §1.1).
pub const MKUBE: &str = "kube.gt.lo";
pub const UPDATER: &str = "mkube-update-updater";
pub const REGISTRY: &str = "registry.gt.lo";
pub const NATS: &str = "nats.gt.lo";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub async fn get_json(url: &str) -> Option<Value> {
    let resp = http().get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

pub fn row<'a>(rows: &'a [Value], name: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["name"] == name)
}

pub fn is_running(r: &Value) -> bool {
    r["running"].as_str() == Some("true")
}

/// A site installed by `mkube-installer` whose mkube (bootstrapped by mkube-update) answers.
pub struct SelfHosted {
    pub site: Site,
    /// mkube's Kubernetes API inside the device (`http://<mkube ip>:8082`).
    pub api: String,
    config: String,
    _dir: tempfile::TempDir,
}

impl SelfHosted {
    /// Bare device → installer → registry, NATS and mkube-update running → mkube bootstrapped
    /// and answering `/readyz`; every one of the four containers running.
    pub async fn install() -> SelfHosted {
        let site = Site::start_with(true).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, site.mkube_config()).unwrap();
        let sh = SelfHosted {
            api: format!("http://{}:8082", site.ip(2)),
            config: config.to_str().unwrap().to_string(),
            site,
            _dir: dir,
        };
        sh.install_again().ok();
        eprintln!("selfhosted: installed; waiting for mkube");
        let ready = format!("{}/readyz", sh.api);
        sh.until(240, "mkube (kube.gt.lo) never answered /readyz", || async {
            http()
                .get(&ready)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        let rows = sh.site.rows("/container").await;
        for name in [REGISTRY, NATS, UPDATER, MKUBE] {
            assert!(
                row(&rows, name).is_some_and(is_running),
                "{name} not running: {rows:?}"
            );
        }
        sh
    }

    /// The installer with the same flags (and this site's mkube configuration).
    pub fn install_again(&self) -> crate::installer_support::Installed {
        self.site.install(&["--mkube-config", self.config.as_str()])
    }

    /// Waits (up to `secs`) until `check` gives `Some`; on time-out panics with `what` and what
    /// the device and mkube show (the containers, the device log's tail, the pods).
    pub async fn until<T, F, Fut>(&self, secs: u64, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() > deadline {
                panic!("{what}\n{}", self.diagnostics().await);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The containers, mkube's pods, mkube-update's record and the device log's tail.
    pub async fn diagnostics(&self) -> String {
        let rows = self.site.rows("/container").await;
        let log = self.site.rows("/log").await;
        let log: Vec<&Value> = log
            .iter()
            .filter(|l| {
                let m = l["message"].as_str().unwrap_or_default();
                !m.contains("RECONCILE") && !m.contains("CONSISTENCY")
            })
            .collect();
        let tail: Vec<String> = log[log.len().saturating_sub(60)..]
            .iter()
            .map(|l| {
                l["message"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(400)
                    .collect()
            })
            .collect();
        let pods = get_json(&format!("{}/api/v1/pods", self.api)).await;
        format!(
            "containers: {rows:#?}\npods: {pods:?}\nupdater record: {:?}\ndevice log:\n{}",
            self.updater_record(),
            tail.join("\n")
        )
    }

    /// The device log's messages that contain every one of `needles`.
    pub async fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        self.site
            .rows("/log")
            .await
            .iter()
            .filter_map(|l| l["message"].as_str())
            .filter(|m| needles.iter().all(|n| m.contains(n)))
            .map(str::to_string)
            .collect()
    }

    pub async fn containers(&self) -> Vec<Value> {
        self.site.rows("/container").await
    }

    /// The row of `name`, if there is exactly one (panics on two: never two of one name).
    pub async fn only(&self, name: &str) -> Option<Value> {
        let rows = self.containers().await;
        let mine: Vec<&Value> = rows.iter().filter(|r| r["name"] == name).collect();
        assert!(mine.len() <= 1, "two containers named {name}: {rows:#?}");
        mine.first().map(|r| (*r).clone())
    }

    /// Pushes the docker-save archive as `<repo>:edge` to the device's registry (skopeo, TLS
    /// not verified); returns the manifest digest the registry now serves for it.
    pub async fn push(&self, archive: &Path, repo: &str) -> String {
        skopeo(&[
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("docker-archive:{}", archive.display()),
            &format!("docker://{}/{repo}:edge", self.site.registry_host()),
        ]);
        self.registry_digest(repo)
            .await
            .unwrap_or_else(|| panic!("{repo}:edge not served after the push"))
    }

    /// The digest the device's registry serves for `<repo>:edge` (a manifest HEAD).
    pub async fn registry_digest(&self, repo: &str) -> Option<String> {
        let url = format!(
            "https://{}/v2/{repo}/manifests/edge",
            self.site.registry_host()
        );
        let resp = insecure()
            .head(url)
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json, \
                 application/vnd.oci.image.index.v1+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json",
            )
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.headers()
            .get("docker-content-digest")?
            .to_str()
            .ok()
            .map(str::to_string)
    }

    /// mkube-update's data directory as the device's disk holds it (its `/data` mount).
    pub fn updater_data(&self) -> std::path::PathBuf {
        self.site
            .sim
            .disk()
            .join("raid1/volumes/mkube-update-updater/data")
    }

    /// mkube-update's record (`update-state.json`), if written.
    pub fn updater_record(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.updater_data().join("update-state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The digest mkube-update recorded as deployed in `container`.
    pub fn deployed(&self, container: &str) -> Option<String> {
        self.updater_record()?["deployed"][container]
            .as_str()
            .map(str::to_string)
    }

    /// Waits until mkube-update has recorded what `container` runs: a container with no record
    /// adopts the registry's current digest at the first look, so a push landing before that
    /// look would be adopted, not deployed (images.md §5.2).
    pub async fn until_recorded(&self, container: &str) -> String {
        self.until(
            120,
            &format!("mkube-update never recorded {container}"),
            || async { self.deployed(container) },
        )
        .await
    }

    /// Rewrites mkube-update's configuration with a shorter health window and poll interval
    /// (keys of images.md §5.1 and its extensions) and restarts its container as an operator
    /// would (`/container/stop`, `/container/start`), so the process reads it again. The
    /// installer's values (15 s health, 60 s poll) make a fault test take many minutes.
    /// Waits first until the bootstrap of mkube is recorded (its health window passed), so the
    /// restart does not cut into it.
    pub async fn retime_updater(&self, health_seconds: f64, poll_seconds: u64) {
        self.until_recorded(MKUBE).await;
        let path = self
            .site
            .sim
            .disk()
            .join("raid1/volumes/mkube-update-updater/config/config.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("pollSeconds: 60\n"), "{text}");
        let text = text.replace(
            "pollSeconds: 60\n",
            &format!("pollSeconds: {poll_seconds}\n"),
        ) + &format!("healthSeconds: {health_seconds}\n");
        std::fs::write(&path, text).unwrap();
        let id = self.only(UPDATER).await.expect("updater row")[".id"].clone();
        self.site.post("/container/stop", json!({".id": id})).await;
        self.until(30, "the updater never stopped", || async {
            let r = self.only(UPDATER).await?;
            (r["stopped"].as_str() == Some("true") || !is_running(&r)).then_some(())
        })
        .await;
        self.start_updater().await;
    }

    /// Starts mkube-update's (stopped) container and waits until it answers `/healthz`.
    pub async fn start_updater(&self) {
        let r = self.only(UPDATER).await.expect("updater row");
        self.site
            .post("/container/start", json!({".id": r[".id"]}))
            .await;
        let url = format!("http://{}:8081/healthz", self.site.ip(5));
        self.until(60, "mkube-update never answered /healthz", || async {
            http()
                .get(&url)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
    }

    /// The host pid of mkube-update's process: a child of this test process (the simulator
    /// runs in it and spawns container processes itself) whose root is the updater's root-dir.
    pub fn updater_pid(&self) -> Option<i32> {
        let root = self
            .site
            .sim
            .disk()
            .join("raid1/images/mkube-update-updater");
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let me = std::process::id().to_string();
        for e in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`: comm may hold spaces, so split after its `)`.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid != Some(me.as_str()) {
                continue;
            }
            let rooted =
                std::fs::read_link(e.path().join("root")).ok().as_deref() == Some(root.as_path());
            // Or by its program: the only mkube-update this test's simulator runs.
            let argv0 = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let argv0 = argv0.split(|b| *b == 0).next().unwrap_or_default();
            let named = argv0.rsplit(|b| *b == b'/').next() == Some(b"mkube-update".as_slice());
            if rooted || named {
                return Some(pid);
            }
        }
        None
    }
}

/// A client for the device registry's TLS listener (the installer's own CA: not checked).
pub fn insecure() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}
