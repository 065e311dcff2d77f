//! Issue 16, "Tests that must exist", against a real three-server NATS JetStream cluster on
//! loopback (R3 stream, `sync_interval: always`): three controllers `rack-a`…`rack-c`, each with
//! its own simulated device. Thirty pods spread by `spec.nodeName` through every controller run
//! on the right device and only there; `kubectl get nodes` and a fleet-wide `kubectl get pods`
//! from each controller show them all; a restarted controller replays only its own node's
//! events; the whole cluster restarted (servers, then controllers) converges without one
//! device write. A controller partitioned from the cluster refuses writes and reaps nothing
//! (an orphan planted on its device stays until the partition heals).

use crate::common;
use crate::consistency_support::{facts, plant_orphan_on, reaped, running};
use crate::engine_support::{config as engine_config, pod as device_pod, process_config, writes};
use crate::routeros_support::Harness;
use common::kubectl::Kubectl;
use common::mkube::MkubeProcess;
use common::nats_cluster::NatsCluster;
use common::nodes::until_statuses;
use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const NODES: [&str; 3] = ["rack-a", "rack-b", "rack-c"];
const STREAM: &str = "MKUBE_EVENTS";

/// One router: its simulated device, its controller and the controller's directory.
struct Rack {
    node: &'static str,
    dev: Harness,
    mk: MkubeProcess,
    nats: String,
    repair: bool,
    dir: tempfile::TempDir,
}

/// The config of `node`'s controller: a reconcile pass every 0.5 s, the repair pass on when
/// `repair` (0.1 s after each trigger).
fn rack_config(node: &str, nats: &str, rest: &str, repair: bool, listen: &str) -> String {
    let text = process_config(node, nats, rest, listen, 0.5);
    if repair {
        text.replace(
            "consistency: {repair: false}",
            "consistency: {repair: true, delaySeconds: 0.1}",
        )
    } else {
        text
    }
}

impl Rack {
    /// Starts the controller again on the same config and directory.
    fn restart(&mut self) {
        let rest = self.dev.sim.rest_url();
        self.mk = MkubeProcess::start_config(self.dir.path(), |l| {
            rack_config(self.node, &self.nats, &rest, self.repair, l)
        });
    }

    /// Names of the pods whose containers run on this rack's device.
    async fn running_pods(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dev
            .client()
            .await
            .list_containers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.state.is_running())
            .filter_map(|c| {
                c.name
                    .strip_prefix("default_")?
                    .strip_suffix("_app")
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }
}

/// A rack for `node` whose controller reaches the servers `nats` (comma-separated).
async fn rack(node: &'static str, nats: String, repair: bool) -> Rack {
    let dev = Harness::start(Profile::default()).await;
    dev.seed(json!({"bridges": ["t"]})).await;
    dev.tarball("app", "v1");
    let dir = tempfile::tempdir().unwrap();
    let rest = dev.sim.rest_url();
    let mk = MkubeProcess::start_config(dir.path(), |l| rack_config(node, &nats, &rest, repair, l));
    Rack {
        node,
        dev,
        mk,
        nats,
        repair,
        dir,
    }
}

fn pod_on(name: &str, node: &str) -> Value {
    let mut p = serde_json::to_value(device_pod(name, &[])).unwrap();
    p["spec"]["nodeName"] = json!(node);
    p
}

/// (pod, node) of every pod `mk` lists for the fleet, sorted.
async fn fleet_pods(http: &reqwest::Client, mk: &MkubeProcess) -> Vec<(String, String)> {
    let list = mk.get_json(http, "/api/v1/pods").await;
    let mut seen: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|p| {
            let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (field(&p["metadata"]["name"]), field(&p["spec"]["nodeName"]))
        })
        .collect();
    seen.sort();
    seen
}

async fn wait_for(what: &str, secs: u64, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The number of records on `node`'s subjects and in the whole stream.
async fn records(url: &str, node: &str) -> (u64, u64) {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(STREAM).await.unwrap();
    let total = stream.info().await.unwrap().state.messages;
    let filter = format!("mkube.{node}.>");
    let mut subjects = stream.info_with_subjects(filter).await.unwrap();
    let mut own = 0;
    use futures::TryStreamExt;
    while let Some((_, count)) = subjects.try_next().await.unwrap() {
        own += count as u64;
    }
    (own, total)
}

/// The events count of the controller's last "replay complete" line.
fn replayed_events(mk: &MkubeProcess) -> u64 {
    let log = mk.log_text();
    let line = log
        .lines()
        .rfind(|l| l.contains("replay complete") && l.contains(" events="))
        .unwrap_or_else(|| panic!("no replay line:\n{log}"));
    let after = line.split(" events=").nth(1).expect("events field");
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_rt::test]
async fn three_controllers_place_thirty_pods_and_a_cluster_restart_writes_nothing_to_a_device() {
    let mut cluster = NatsCluster::start(3);
    cluster.wait_jetstream().await;
    let http = common::http();
    let mut racks = Vec::new();
    for node in NODES {
        racks.push(rack(node, cluster.urls(), false).await);
    }
    for r in &racks {
        r.mk.wait_ready(&http).await;
    }
    let all_ready: Vec<(&str, &str)> = NODES.iter().map(|n| (*n, "True")).collect();
    for r in &racks {
        until_statuses(&http, &r.mk, &all_ready, 30).await;
    }

    // Thirty pods, p00…p29: pod i on node i % 3, posted through controller (i + 1) % 3, so
    // every create but none of its own node's is carried over NATS to its owner.
    let mut want: Vec<(String, String)> = Vec::new();
    for i in 0..30 {
        let (name, node) = (format!("p{i:02}"), NODES[i % 3]);
        let (code, body) = racks[(i + 1) % 3]
            .mk
            .create_pod(&http, &pod_on(&name, node))
            .await;
        assert_eq!(code, 201, "{name}: {body}");
        assert_eq!(body["spec"]["nodeName"], node, "{body}");
        want.push((name, node.to_string()));
    }
    want.sort();
    for (k, r) in racks.iter().enumerate() {
        let mine: Vec<String> = want
            .iter()
            .filter(|(_, n)| n == r.node)
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(mine.len(), 10);
        wait_for(
            &format!("{}'s ten pods on its device", r.node),
            90,
            async || r.running_pods().await == mine,
        )
        .await;
        // Each on the right device and only there.
        for other in racks.iter().filter(|o| o.node != r.node) {
            let there = other.running_pods().await;
            assert!(mine.iter().all(|p| !there.contains(p)), "{k}: {there:?}");
        }
    }

    // kubectl from each controller: three Ready nodes and the fleet's thirty pods.
    for r in &racks {
        assert_eq!(fleet_pods(&http, &r.mk).await, want, "from {}", r.node);
        let kubectl = Kubectl::new(&r.mk.base, &[]);
        let nodes = kubectl.ok(&["get", "nodes"]);
        for node in NODES {
            assert!(
                nodes
                    .lines()
                    .any(|l| l.starts_with(node) && l.contains(" Ready")),
                "{nodes}"
            );
        }
        let wide = kubectl.ok(&["get", "pods", "-o", "wide"]);
        for (pod, node) in &want {
            assert!(
                wide.lines()
                    .any(|l| l.starts_with(pod.as_str()) && l.contains(node.as_str())),
                "{pod} on {node} from {}:\n{wide}",
                r.node
            );
        }
    }

    // A controller restarted (killed: no final snapshot) replays its own node's records only.
    let url = cluster.url(0);
    racks[1].mk.kill();
    racks[1].dev.clear_journal().await;
    racks[1].restart();
    racks[1].mk.wait_ready(&http).await;
    let (own, total) = records(&url, "rack-b").await;
    let replayed = replayed_events(&racks[1].mk);
    assert!(own > 0 && own < total, "own {own} of {total}");
    assert_eq!(
        replayed, own,
        "rack-b folded {replayed} of {own} own records ({total} in all)"
    );
    assert_eq!(fleet_pods(&http, &racks[1].mk).await, want);

    // The whole cluster restarted under running controllers: they wait it out, read their log
    // again and change nothing on their devices.
    for r in &racks {
        r.dev.clear_journal().await;
    }
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.restart(i);
    }
    cluster.wait_jetstream().await;
    for r in &racks {
        until_statuses(&http, &r.mk, &all_ready, 60).await;
        assert_eq!(fleet_pods(&http, &r.mk).await, want, "from {}", r.node);
    }
    // …then every controller killed and started again: each replays and converges.
    for r in racks.iter_mut() {
        r.mk.kill();
        r.restart();
    }
    for r in &racks {
        r.mk.wait_ready(&http).await;
    }
    for r in &racks {
        until_statuses(&http, &r.mk, &all_ready, 30).await;
        assert_eq!(fleet_pods(&http, &r.mk).await, want, "from {}", r.node);
        // A few reconcile passes (0.5 s each) over the device's unchanged containers.
        let passes = || {
            r.mk.log_text()
                .matches("RECONCILE: step 4 IPAM resync")
                .count()
        };
        let seen = passes();
        wait_for("two reconcile passes", 30, async || passes() >= seen + 2).await;
    }
    for r in &racks {
        let mine: Vec<String> = want
            .iter()
            .filter(|(_, n)| n == r.node)
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(r.running_pods().await, mine, "{}", r.node);
        assert_eq!(
            writes(&r.dev).await,
            Vec::<String>::new(),
            "{} was written to",
            r.node
        );
    }
}

#[actix_rt::test]
async fn a_partitioned_controller_refuses_writes_and_reaps_nothing_until_healed() {
    let mut cluster = NatsCluster::start(3);
    cluster.wait_jetstream().await;
    let http = common::http();
    // rack-a reaches the first two servers, rack-c only the third (the one cut off later).
    let a = rack(
        "rack-a",
        format!("{},{}", cluster.url(0), cluster.url(1)),
        false,
    )
    .await;
    let c = rack("rack-c", cluster.url(2), true).await;
    a.mk.wait_ready(&http).await;
    c.mk.wait_ready(&http).await;
    for name in ["c0", "c1", "c2"] {
        let (code, body) = c.mk.create_pod(&http, &pod_on(name, "rack-c")).await;
        assert_eq!(code, 201, "{body}");
    }
    wait_for("rack-c's pods running", 60, async || {
        c.running_pods().await == ["c0", "c1", "c2"]
    })
    .await;

    // rack-a has read rack-c's node, so it knows whom it cannot reach later.
    let both = [("rack-a", "True"), ("rack-c", "True")];
    until_statuses(&http, &a.mk, &both, 30).await;

    cluster.restart_partitioned(2);
    wait_for("rack-c refusing writes", 60, async || {
        c.mk.create_pod(&http, &pod_on("late", "rack-c")).await.0 == 503
    })
    .await;
    // An orphan of mkube's naming appears on rack-c's device while it is cut off.
    let cfg = engine_config(&cluster.url(2), &c.dev.sim.rest_url());
    plant_orphan_on(&c.dev, &cfg, "default", "ghost", "127.77.0.40/24").await;
    c.dev.clear_journal().await;
    let stopped = || c.mk.log_text().matches("pass stopped").count();
    let seen = stopped();
    wait_for("two repair passes stopped", 60, async || {
        stopped() >= seen + 2
    })
    .await;
    let removes: Vec<String> = writes(&c.dev)
        .await
        .into_iter()
        .filter(|l| l.ends_with("/remove") || l.ends_with("/stop"))
        .collect();
    assert!(removes.is_empty(), "reaped while partitioned: {removes:?}");
    assert!(running(&c.dev, "default_ghost_app").await);
    assert_eq!(c.running_pods().await, ["c0", "c1", "c2", "ghost"]);
    // It still answers reads; the rest of the fleet names it when it cannot reach it.
    let listed =
        c.mk.get_json(&http, "/api/v1/namespaces/default/pods")
            .await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    let (code, body) = a.mk.create_pod(&http, &pod_on("via-a", "rack-c")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("rack-c"),
        "{body}"
    );

    // Healed: the orphan is reaped once, recorded once; the pods stay.
    cluster.heal(2);
    wait_for("the orphan reaped after the heal", 90, async || {
        !running(&c.dev, "default_ghost_app").await
    })
    .await;
    assert_eq!(c.running_pods().await, ["c0", "c1", "c2"]);
    let mut log_cfg = cfg.clone();
    log_cfg.node_name = "rack-c".into();
    log_cfg.nats.url = cluster.url(0);
    let log = common::cluster::log(&log_cfg).await;
    let reaps = reaped(&facts(&log).await);
    assert!(
        reaps
            .iter()
            .filter(|(_, n)| n == "default_ghost_app")
            .count()
            == 1,
        "{reaps:?}"
    );
}
