//! The real `mkube` binary, run as users run it.

use super::nats::free_port;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mkube"))
}

/// Runs `mkube <args>` to completion.
pub fn cli(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("running mkube")
}

/// A loopback-only config for tests; `extra` is appended verbatim (YAML).
pub fn write_config(dir: &Path, node: &str, nats_url: &str, listen: &str, extra: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config_text(node, nats_url, listen, extra)).expect("write config");
    path
}

pub fn config_text(node: &str, nats_url: &str, listen: &str, extra: &str) -> String {
    format!(
        "nodeName: {node}\nstandalone: true\nrouteros:\n  restUrl: http://127.0.0.1:9/rest\nnetworks:\n  - name: t\n    bridge: t\n    cidr: 127.77.0.0/24\n    gateway: 127.77.0.1\n    dns:\n      endpoint: http://127.0.0.1:9\n      zone: t.lo\n      server: 127.77.0.252\n      staticRecords: []\nnats:\n  url: {nats_url}\n  snapshotEvery: 1000\napi:\n  listen: {listen}\nlifecycle:\n  bootManifestPath: \"\"\nconsistency:\n  repair: false\nupdate:\n  listen: \"\"\n{extra}"
    )
}

pub struct MkubeProcess {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl MkubeProcess {
    /// Starts `mkube run` and waits until `/healthz` answers.
    pub fn start(dir: &Path, node: &str, nats_url: &str) -> MkubeProcess {
        Self::start_with(dir, node, nats_url, "")
    }

    pub fn start_with(dir: &Path, node: &str, nats_url: &str, extra: &str) -> MkubeProcess {
        Self::start_config(dir, |listen| config_text(node, nats_url, listen, extra))
    }

    /// Starts with the config `text(listen)` returns for a free listen address.
    pub fn start_config(dir: &Path, text: impl Fn(&str) -> String) -> MkubeProcess {
        Self::start_env(dir, text, &[])
    }

    /// As `start_config`, with extra environment variables (e.g. `MKUBE_LOG_FORMAT=json`).
    pub fn start_env(
        dir: &Path,
        text: impl Fn(&str) -> String,
        env: &[(&str, &str)],
    ) -> MkubeProcess {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let config = dir.join("config.yaml");
        let text = text(&listen);
        // Loopback only: without a loopback restUrl mkube would default to a real device.
        assert!(
            text.contains("restUrl: http://127.0.0.1:")
                || text.contains("restUrl: \"http://127.0.0.1:"),
            "test config must point RouterOS at loopback"
        );
        std::fs::write(&config, text).expect("write config");
        let log = dir.join(format!("mkube-{port}.log"));
        let child = Command::new(bin())
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn mkube");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mkube did not listen; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        MkubeProcess {
            child,
            base: format!("http://{listen}"),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` and return the body as text (any status).
    pub async fn get_text(&self, http: &reqwest::Client, path: &str) -> String {
        http.get(self.url(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("body")
    }

    /// GET `path` and parse the body as JSON (any status).
    pub async fn get_json(&self, http: &reqwest::Client, path: &str) -> serde_json::Value {
        http.get(self.url(path))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON body")
    }

    /// POSTs a pod to `default`: the HTTP status (0 when the request itself failed, e.g.
    /// while the controller is down) and the body; a refusal is printed, for failure output.
    pub async fn create_pod(
        &self,
        http: &reqwest::Client,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let sent = http
            .post(self.url("/api/v1/namespaces/default/pods"))
            .json(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match sent {
            Ok(r) => {
                let code = r.status().as_u16();
                let answer = r.json().await.unwrap_or(serde_json::Value::Null);
                if code != 201 {
                    eprintln!("create {}: {code} {answer}", body["metadata"]["name"]);
                }
                (code, answer)
            }
            Err(e) => {
                eprintln!("create {}: {e}", body["metadata"]["name"]);
                (0, serde_json::Value::String(e.to_string()))
            }
        }
    }

    /// The names of the pods `GET /api/v1/pods` lists (the fleet's, on a fleet), sorted.
    pub async fn pod_names(&self, http: &reqwest::Client) -> Vec<String> {
        let list = self.get_json(http, "/api/v1/pods").await;
        let mut names: Vec<String> = list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .map(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/readyz` says ready.
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(self.url("/readyz")).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mkube never got ready; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, as a supervisor stops it; waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "mkube did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MkubeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
