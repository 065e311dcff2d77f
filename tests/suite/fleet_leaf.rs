//! Issue 16, "Routers on unreliable links", against real nats-servers on loopback: each router
//! runs its own nats-server as a leaf node with JetStream in its own domain (`rack-a`,
//! `rack-b`), holding its controller's stream, snapshots and node book; a three-server hub
//! cluster (domain `hub`) sources every router's `MKUBE_EVENTS` into one stream `FLEET`.
//! Pods created through each router's controller reach the hub; with the whole hub down the
//! routers still accept creates, list them and replay them on boot; once the hub is back its
//! stream holds exactly the events each router holds, once each. What crosses the leaf links
//! of the fleet API: a request for another router's node does (core request/reply); the node
//! book does not (a bucket per domain), so each controller lists only its own node and pods.

use crate::common;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use common::mkube::MkubeProcess;
use common::nats_cluster::NatsCluster;
use common::nats_leaf::LeafServer;
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EVENTS: &str = "MKUBE_EVENTS";
const FLEET: &str = "FLEET";

/// A router as the test sees it: its leaf server and the controller connected only to it.
struct Router {
    node: String,
    leaf: LeafServer,
    mk: MkubeProcess,
    dir: tempfile::TempDir,
}

impl Router {
    fn start(node: &str, hub: &NatsCluster) -> Router {
        let leaf = LeafServer::start(node, hub.leaf_urls());
        let dir = tempfile::tempdir().unwrap();
        let mk = MkubeProcess::start(dir.path(), node, &leaf.url());
        Router {
            node: node.to_string(),
            leaf,
            mk,
            dir,
        }
    }

    /// Stops the controller and starts it again on the same leaf (a reboot: it replays).
    async fn restart_controller(&mut self, http: &reqwest::Client) {
        assert!(self.mk.terminate().success());
        self.mk = MkubeProcess::start(self.dir.path(), &self.node, &self.leaf.url());
        self.mk.wait_ready(http).await;
    }
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

/// POSTs a pod; the HTTP status (0 when the request itself failed).
async fn create(http: &reqwest::Client, mk: &MkubeProcess, body: &Value) -> u16 {
    mk.create_pod(http, body).await.0
}

async fn create_all(http: &reqwest::Client, router: &Router, names: &[&str]) {
    for name in names {
        assert_eq!(
            create(http, &router.mk, &pod(name)).await,
            201,
            "{name} on {}\n{}",
            router.node,
            router.mk.log_text()
        );
    }
}

async fn listed(http: &reqwest::Client, mk: &MkubeProcess) -> Vec<String> {
    mk.pod_names(http).await
}

async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.expect("connect"))
}

/// Creates the hub's `FLEET` stream (three replicas, no subjects of its own) sourcing every
/// router's `MKUBE_EVENTS` from the router's domain, as an operator would through the hub.
async fn create_fleet_stream(hub_url: &str, routers: &[&Router]) {
    let sources = routers
        .iter()
        .map(|r| stream::Source {
            name: EVENTS.to_string(),
            external: Some(stream::External {
                api_prefix: r.leaf.api_prefix(),
                delivery_prefix: None,
            }),
            ..Default::default()
        })
        .collect();
    jetstream_at(hub_url)
        .await
        .create_stream(stream::Config {
            name: FLEET.to_string(),
            sources: Some(sources),
            num_replicas: 3,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .expect("create FLEET on the hub");
}

/// One stored event: subject, `Nats-Msg-Id` and payload.
type Stored = (String, String, Bytes);

/// Every message of `stream` (read through `url`) on `node`'s subjects, in stream order;
/// `None` while the stream cannot be read (a hub still electing, say).
async fn stored_of_node(url: &str, stream: &str, node: &str) -> Option<Vec<Stored>> {
    let client = async_nats::connect(url).await.ok()?;
    let js = jetstream::new(client);
    let mut s = js.get_stream(stream).await.ok()?;
    let state = s.info().await.ok()?.state.clone();
    let prefix = format!("mkube.{node}.");
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let Ok(m) = s.get_raw_message(seq).await else {
            continue;
        };
        if !m.subject.starts_with(&prefix) {
            continue;
        }
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        out.push((m.subject.to_string(), id, m.payload));
    }
    Some(out)
}

/// Waits until the hub's `FLEET` holds exactly the router's events (same subjects, ids and
/// payloads, in the router's order, none twice); the count.
async fn wait_hub_holds_exactly(hub: &NatsCluster, router: &Router) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let own = stored_of_node(&router.leaf.url(), EVENTS, &router.node)
            .await
            .expect("the router's own stream");
        let hub_copy = stored_of_node(&hub.url(0), FLEET, &router.node).await;
        if hub_copy.as_ref() == Some(&own) {
            return own.len();
        }
        assert!(
            Instant::now() < deadline,
            "the hub holds {:?} of {}'s events, the router {}\n{}\n{}",
            hub_copy.map(|c| c.len()),
            router.node,
            own.len(),
            hub.logs(),
            router.leaf.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pod names declared on `node`'s subjects of `stream`, read with `mkube replay`.
fn declared(url: &str, stream: &str, node: &str) -> Vec<String> {
    let out = common::mkube::cli(&[
        "replay",
        "--nats",
        url,
        "--stream",
        stream,
        "--node",
        node,
        "--format",
        "json",
        "--no-state",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "pods.PodDeclared")
        .filter_map(|e| e["payload"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The replica count of `stream` as the server at `url` reports it.
async fn replicas(url: &str, stream: &str) -> usize {
    let mut s = jetstream_at(url)
        .await
        .get_stream(stream)
        .await
        .expect("stream");
    s.info().await.expect("stream info").config.num_replicas
}

#[actix_rt::test]
async fn routers_keep_writing_while_the_hub_is_down_and_the_hub_catches_up_exactly() {
    let mut hub = NatsCluster::start_hub(3, "hub");
    hub.wait_jetstream().await;
    let http = common::http();
    let mut a = Router::start("rack-a", &hub);
    let b = Router::start("rack-b", &hub);
    a.mk.wait_ready(&http).await;
    b.mk.wait_ready(&http).await;

    // Each log lives in its router's domain, on one server: one replica, nothing on the hub.
    assert_eq!(replicas(&a.leaf.url(), EVENTS).await, 1);
    assert!(
        jetstream_at(&hub.url(0))
            .await
            .get_stream(EVENTS)
            .await
            .is_err(),
        "mkube's stream must not be in the hub's domain"
    );

    create_all(&http, &a, &["a1"]).await;
    create_all(&http, &b, &["b1"]).await;
    create_fleet_stream(&hub.url(0), &[&a, &b]).await;
    wait_hub_holds_exactly(&hub, &a).await;
    wait_hub_holds_exactly(&hub, &b).await;
    assert_eq!(declared(&hub.url(0), FLEET, "rack-a"), ["a1"]);
    assert_eq!(declared(&hub.url(0), FLEET, "rack-b"), ["b1"]);

    // The uplink is gone: every hub server down. The routers keep accepting and serving.
    for i in 0..hub.servers.len() {
        hub.kill(i);
    }
    create_all(&http, &a, &["a2", "a3"]).await;
    create_all(&http, &b, &["b2"]).await;
    assert_eq!(listed(&http, &a.mk).await, ["a1", "a2", "a3"]);
    assert_eq!(listed(&http, &b.mk).await, ["b1", "b2"]);
    // A router rebooting its controller while cut off replays from its own leaf.
    a.restart_controller(&http).await;
    assert_eq!(listed(&http, &a.mk).await, ["a1", "a2", "a3"]);

    // The uplink is back: the hub catches up with exactly what each router holds.
    let back = Instant::now();
    for i in 0..hub.servers.len() {
        hub.restart(i);
    }
    hub.wait_jetstream().await;
    let elected = back.elapsed();
    let from_a = wait_hub_holds_exactly(&hub, &a).await;
    let from_b = wait_hub_holds_exactly(&hub, &b).await;
    eprintln!(
        "the hub holds {from_a} events of rack-a and {from_b} of rack-b: JetStream back {elected:?} \
         after the restart, caught up {:?} later",
        back.elapsed() - elected
    );
    assert_eq!(declared(&hub.url(0), FLEET, "rack-a"), ["a1", "a2", "a3"]);
    assert_eq!(declared(&hub.url(0), FLEET, "rack-b"), ["b1", "b2"]);
}

/// The keys of the node book a controller writes into, read through `url` (its own domain).
async fn node_book_keys(url: &str) -> Vec<String> {
    let Ok(book) = jetstream_at(url)
        .await
        .get_key_value(format!("{EVENTS}_NODES"))
        .await
    else {
        return Vec::new();
    };
    let Ok(keys) = book.keys().await else {
        return Vec::new();
    };
    let mut keys: Vec<String> = keys.try_collect().await.unwrap_or_default();
    keys.sort();
    keys
}

async fn wait_node_book(url: &str, want: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while node_book_keys(url).await != want {
        assert!(Instant::now() < deadline, "node book at {url}: {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pod_on(name: &str, node: &str) -> Value {
    let mut body = pod(name);
    body["spec"]["nodeName"] = json!(node);
    body
}

#[actix_rt::test]
async fn requests_cross_the_hub_to_another_router_but_each_node_book_stays_in_its_domain() {
    let mut hub = NatsCluster::start_hub(3, "hub");
    hub.wait_jetstream().await;
    let http = common::http();
    let a = Router::start("rack-a", &hub);
    let b = Router::start("rack-b", &hub);
    a.mk.wait_ready(&http).await;
    b.mk.wait_ready(&http).await;

    // Each controller's heartbeat lands in its own domain's bucket only.
    wait_node_book(&b.leaf.url(), &["rack-b"]).await;
    wait_node_book(&a.leaf.url(), &["rack-a"]).await;
    let nodes = a.mk.get_json(&http, "/api/v1/nodes").await;
    assert_eq!(nodes["items"].as_array().unwrap().len(), 1, "{nodes}");

    // A create for the other router is still carried to it (core request/reply crosses the
    // leaf links through the hub), but a list shows only the pods of the nodes in the book.
    create_all(&http, &b, &["b1"]).await;
    assert_eq!(create(&http, &a.mk, &pod_on("via-a", "rack-b")).await, 201);
    assert_eq!(listed(&http, &b.mk).await, ["b1", "via-a"]);
    assert!(listed(&http, &a.mk).await.is_empty());
    let other =
        a.mk.get_json(&http, "/api/v1/namespaces/default/pods/b1")
            .await;
    assert_eq!(other["code"], 404, "{other}");

    // Without the hub nothing answers for rack-b, and rack-a does not know it: 422.
    for i in 0..hub.servers.len() {
        hub.kill(i);
    }
    assert_eq!(
        create(&http, &a.mk, &pod_on("via-a-2", "rack-b")).await,
        422
    );
    assert_eq!(listed(&http, &b.mk).await, ["b1", "via-a"]);
}
