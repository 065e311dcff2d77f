//! A real three-server NATS JetStream cluster on loopback (issue 16): each server with its own
//! client and route ports, store and `server_name`, `sync_interval: always`, routes to the
//! others, not advertised to clients (a client knows the servers it was given, so a test can
//! keep one on one side of a partition). A server can be killed (SIGKILL), restarted on its ports and store, or restarted
//! cut off from the others (a partition: its routes point nowhere and its route port moves, so
//! the others cannot reach it either). As a hub ([`NatsCluster::start_hub`]) its JetStream has
//! a domain and every server listens for leaf nodes (see `nats_leaf`).

use super::nats::{free_port, spawn_server};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

pub struct ClusterServer {
    pub name: String,
    pub port: u16,
    route_port: u16,
    pub leaf_port: u16,
    child: Option<Child>,
}

pub struct NatsCluster {
    pub servers: Vec<ClusterServer>,
    /// The JetStream domain of a hub; `None` for a plain cluster (no leaf-node listener).
    hub_domain: Option<String>,
    dir: tempfile::TempDir,
}

impl NatsCluster {
    pub fn start(size: usize) -> NatsCluster {
        Self::start_with(size, None)
    }

    /// A cluster whose JetStream is the domain `domain` and whose servers accept leaf nodes.
    pub fn start_hub(size: usize, domain: &str) -> NatsCluster {
        Self::start_with(size, Some(domain.to_string()))
    }

    fn start_with(size: usize, hub_domain: Option<String>) -> NatsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let servers = (0..size)
            .map(|i| ClusterServer {
                name: format!("n{}", i + 1),
                port: free_port(),
                route_port: free_port(),
                leaf_port: free_port(),
                child: None,
            })
            .collect();
        let mut cluster = NatsCluster {
            servers,
            hub_domain,
            dir,
        };
        for i in 0..size {
            cluster.restart(i);
        }
        cluster
    }

    /// Every server's client URL, comma-separated (as `nats.url` takes them).
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every server's leaf-node URL (a hub's), for a leaf's `remotes`.
    pub fn leaf_urls(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| format!("nats-leaf://127.0.0.1:{}", s.leaf_port))
            .collect()
    }

    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.servers[i].port)
    }

    pub fn index_of(&self, name: &str) -> usize {
        self.servers
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server {name}"))
    }

    fn store(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.servers[i].name)
    }

    /// Starts server `i` (again) in the cluster, on its ports and store.
    pub fn restart(&mut self, i: usize) {
        let routes: Vec<String> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| format!("nats-route://127.0.0.1:{}", s.route_port))
            .collect();
        let route_port = self.servers[i].route_port;
        self.launch(i, route_port, &routes);
    }

    /// Restarts server `i` cut off from the others: its one route leads nowhere, and its route
    /// port moves where nobody dials. Clients still reach it; it has no quorum, so JetStream
    /// writes through it fail.
    pub fn restart_partitioned(&mut self, i: usize) {
        self.kill(i);
        // A clustered JetStream server needs a route configured: one to a port nobody serves.
        let nowhere = format!("nats-route://127.0.0.1:{}", free_port());
        self.launch(i, free_port(), &[nowhere]);
    }

    /// Ends a partition: server `i` back with its own route port and routes.
    pub fn heal(&mut self, i: usize) {
        self.kill(i);
        self.restart(i);
    }

    fn launch(&mut self, i: usize, route_port: u16, routes: &[String]) {
        assert!(self.servers[i].child.is_none(), "server already running");
        let s = &self.servers[i];
        let conf = self.dir.path().join(format!("{}.conf", s.name));
        let (domain, leafnodes) = match &self.hub_domain {
            Some(domain) => (
                format!("  domain: {domain}\n"),
                format!("leafnodes {{\n  listen: 127.0.0.1:{}\n}}\n", s.leaf_port),
            ),
            None => (String::new(), String::new()),
        };
        std::fs::write(
            &conf,
            format!(
                "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 0\n\
                 jetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n{domain}}}\n\
                 cluster {{\n  name: mkube-test\n  listen: 127.0.0.1:{route_port}\n  no_advertise: true\n  routes: [{routes}]\n}}\n\
                 {leafnodes}",
                name = s.name,
                port = s.port,
                store = self.store(i),
                routes = routes.join(", "),
            ),
        )
        .expect("write conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", s.name)))
            .expect("log");
        let child = spawn_server(&conf, log);
        let port = s.port;
        self.servers[i].child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.servers[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "nats-server did not start on {port} ({exited:?})\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills server `i` hard (SIGKILL), as a crash would.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let port = self.servers[i].port;
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until JetStream answers through every running server (a meta leader exists).
    pub async fn wait_jetstream(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for (i, s) in self.servers.iter().enumerate() {
            if s.child.is_none() {
                continue;
            }
            let client = async_nats::connect(self.url(i)).await.expect("connect");
            let js = async_nats::jetstream::new(client);
            while js.query_account().await.is_err() {
                assert!(Instant::now() < deadline, "no JetStream through {}", s.name);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The logs of every server, for failure messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|s| {
                let text = std::fs::read_to_string(self.dir.path().join(format!("{}.log", s.name)))
                    .unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(60).collect();
                format!(
                    "--- {}\n{}",
                    s.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            if let Some(mut child) = self.servers[i].child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The stream's leader (a `server_name`) and its replica count, as JetStream reports them.
pub async fn stream_leader(url: &str, stream: &str) -> Option<(String, usize)> {
    let client = async_nats::connect(url).await.ok()?;
    let js = async_nats::jetstream::new(client);
    let mut s = js.get_stream(stream).await.ok()?;
    let info = s.info().await.ok()?;
    let leader = info.cluster.as_ref()?.leader.clone()?;
    Some((leader, info.config.num_replicas))
}
