//! A router's own `nats-server` as a leaf node (issue 16, "Routers on unreliable links"):
//! JetStream in its own domain (`sync_interval: always`, one server, no cluster), dialing a hub
//! (`NatsCluster::start_hub`) over leaf-node remotes. It can be killed and restarted on its
//! port and store.

use super::nats::{free_port, spawn_server};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

pub struct LeafServer {
    /// Its `server_name` and its JetStream domain.
    pub domain: String,
    pub port: u16,
    hub_leaf_urls: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl LeafServer {
    /// Starts a leaf in JetStream domain `domain`, dialing every URL in `hub_leaf_urls`.
    pub fn start(domain: &str, hub_leaf_urls: Vec<String>) -> LeafServer {
        let mut leaf = LeafServer {
            domain: domain.to_string(),
            port: free_port(),
            hub_leaf_urls,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        leaf.restart();
        leaf
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The JetStream API prefix under which the hub reaches this leaf's domain.
    pub fn api_prefix(&self) -> String {
        format!("$JS.{}.API", self.domain)
    }

    /// The server's config: what a router would run.
    pub fn config_text(&self) -> String {
        let remotes = self
            .hub_leaf_urls
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "server_name: {domain}\nlisten: 127.0.0.1:{port}\nhttp: 0\n\
             jetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n  domain: {domain}\n}}\n\
             leafnodes {{\n  remotes: [{{ urls: [{remotes}] }}]\n}}\n",
            domain = self.domain,
            port = self.port,
            store = self.dir.path().join("store"),
        )
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    /// Starts the server (again) on its port and store; waits until it accepts clients.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "leaf already running");
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(&conf, self.config_text()).expect("write leaf conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("leaf log");
        self.child = Some(spawn_server(&conf, log));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "leaf {} did not start\n{}",
                self.domain,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server hard (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for LeafServer {
    fn drop(&mut self) {
        self.kill();
    }
}
