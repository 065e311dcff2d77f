//! Shared setup of the pods-engine tests: a real nats-server, the RouterOS simulator on
//! loopback (accelerated clock, bridge `t` seeded, a docker-save tarball on its disk) and an
//! in-process cluster in standalone mode whose reconcile loop the test drives (`RunPass`).
#![allow(dead_code)]

use crate::common::{NatsServer, cluster};
use crate::routeros_support::{Harness, PACING};
use k8s_openapi::api::core::v1::Pod;
use mkube::actors::cluster::Fold;
use mkube::actors::ipam::state::IpamState;
use mkube::actors::pods::state::PodsState;
use mkube::actors::pods::{Kick, Kicked};
use mkube::actors::reconcile::{PassReport, RunPass};
use mkube::actors::replay::{Visit, fold_log};
use mkube::actors::wiring::Cluster;
use mkube::config::Config;
use mkube::pod::sample::SamplePod;
use mkube::routeros::RosClient;
use mkube::sim::routeros::Profile;
use serde_json::json;
use std::time::{Duration, Instant};

pub const TARBALL: &str = "raid1/cache/app.tar";

pub struct Env {
    pub nats: NatsServer,
    pub h: Harness,
    pub cfg: Config,
}

pub async fn env() -> Env {
    env_on(Profile::default()).await
}

/// [`env`] against a simulator of another RouterOS version (routeros-rest §1.12).
pub async fn env_on(profile: Profile) -> Env {
    let nats = NatsServer::start();
    let h = Harness::start(profile).await;
    h.seed(json!({"bridges": ["t", "u"]})).await;
    h.tarball("app", "v1");
    let cfg = config(&nats.url(), &h.sim.rest_url());
    Env { nats, h, cfg }
}

/// `cluster::config` in standalone mode against the simulator; reconcile and port
/// collection only run when the test asks.
pub fn config(nats_url: &str, rest_url: &str) -> Config {
    assert!(rest_url.starts_with("http://127.0.0.1:"), "loopback only");
    let mut cfg = cluster::config(nats_url);
    cfg.standalone = true;
    cfg.routeros.rest_url = rest_url.to_string();
    cfg.routeros.pacing = PACING;
    cfg.storage.base_path = "/raid1/images".into();
    cfg.lifecycle.reconcile_interval_seconds = 3600.0;
    cfg.lifecycle.dangling_ports_after_seconds = 3600.0;
    cfg.lifecycle.create_backoff_seconds = 0.2;
    // The lifecycle watchdog (§7.2) stays out of the way unless a test turns it on.
    cfg.lifecycle.watchdog_interval_seconds = 3600;
    cfg
}

/// The config of a real `mkube` process (node `node`) against the simulator at `rest`, in
/// standalone mode with a pass every `reconcile` seconds (repair pass off, as `cluster::config`).
pub fn process_config(node: &str, nats: &str, rest: &str, listen: &str, reconcile: f64) -> String {
    format!(
        r#"nodeName: {node}
standalone: true
routeros:
  restUrl: {rest}
  pacing: {PACING}
networks:
  - name: t
    bridge: t
    cidr: 127.77.0.0/24
    gateway: 127.77.0.1
    ipamStart: 127.77.0.100
    ipamEnd: 127.77.0.150
    dns: {{endpoint: "http://127.0.0.1:9", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
storage: {{basePath: /raid1/images}}
nats: {{url: "{nats}", snapshotEvery: 1000}}
api: {{listen: "{listen}"}}
lifecycle: {{bootManifestPath: "", reconcileIntervalSeconds: {reconcile}, createBackoffSeconds: 0.2}}
consistency: {{repair: false}}
"#
    )
}

/// A one-container pod running the simulator's tarball (`vkube.io/file`), with a volume
/// (the shared fixture, `pod::sample`).
pub fn pod(name: &str, annotations: &[(&str, &str)]) -> Pod {
    annotations
        .iter()
        .fold(
            SamplePod::on_device("default", name, TARBALL),
            |p, (k, v)| p.annotation(k, v),
        )
        .build()
}

/// Declares `pod` through the pods actor (as the API does).
pub async fn declare(c: &Cluster, pod: Pod) {
    c.pods
        .send(mkube::actors::pods::Declare {
            pod,
            source: mkube::events::catalogue::PodSource::Api,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
}

/// Declares `pod` and waits until its worker created it.
pub async fn declare_created(c: &Cluster, pod: Pod) {
    let key = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    declare(c, pod).await;
    settle(c, &key).await.expect("created");
}

/// Runs the pod's worker once more after whatever job is running ends, and returns that
/// run's outcome. Waiting uses unforced kicks, which never queue extra runs.
pub async fn settle(c: &Cluster, key: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kick = |force| Kick {
            key: key.to_string(),
            force,
        };
        let got = match c.pods.send(kick(false)).await.expect("pods actor") {
            Kicked::BackingOff => c.pods.send(kick(true)).await.expect("pods actor"),
            other => other,
        };
        match got {
            Kicked::Done(r) => return r,
            Kicked::Busy => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "pod {key} never settled");
    }
}

/// A pod's status as the API renders it (`pod::status`), from the published folds and the
/// device observations.
pub async fn pod_status(
    c: &Cluster,
    cfg: &Config,
    key: &str,
) -> k8s_openapi::api::core::v1::PodStatus {
    let pods = c.pods_published.read(&c.pods).await.unwrap();
    let ipam = ipam_state(c).await;
    let observations = c.observations.snapshot();
    let (ns, name) = key.split_once('/').unwrap();
    let subject = mkube::events::subject::for_key(&cfg.node_name, "pods", &[ns, name]);
    let seq = pods.seqs.get(&subject).copied().unwrap_or(0);
    let inputs = mkube::pod::status::StatusInputs {
        units: &pods.state.units,
        networks: &cfg.networks,
        node: &cfg.node_name,
        started: None,
        address: Box::new(|network: &str, veth: &str| {
            ipam.pools.get(network)?.get(veth).map(|a| a.ip.to_string())
        }),
    };
    let seen = observations.pods.get(key);
    mkube::pod::status::pod_status(&pods.state.pods[key], seq, seen, &inputs)
}

/// Deletes a pod through the pods actor (as the API does).
pub async fn delete(c: &Cluster, namespace: &str, name: &str) {
    c.pods
        .send(mkube::actors::pods::Delete {
            namespace: namespace.into(),
            name: name.into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
}

pub async fn pass(c: &Cluster) -> PassReport {
    c.reconcile
        .as_ref()
        .expect("standalone cluster has a reconcile loop")
        .send(RunPass)
        .await
        .expect("reconcile actor")
}

/// The pods fold as the pods actor publishes it.
pub async fn pods_state(c: &Cluster) -> PodsState {
    let snapshot = c.pods_published.read(&c.pods).await.unwrap();
    (*snapshot.state).clone()
}

/// The IPAM fold as the ipam actor publishes it.
pub async fn ipam_state(c: &Cluster) -> IpamState {
    let snapshot = c.ipam_published.read(&c.ipam).await.unwrap();
    (*snapshot.state).clone()
}

/// A client of the simulator that leaves its journal alone.
pub async fn ros(h: &Harness) -> RosClient {
    RosClient::connect(h.options()).await.expect("client")
}

/// Every event kind in the log, in order, and the fold of it.
pub async fn log_kinds(cfg: &Config) -> (Vec<String>, Fold) {
    let log = cluster::log(cfg).await;
    let last = log.last_sequence().await.unwrap();
    let mut fold = Fold::default();
    let mut kinds = Vec::new();
    fold_log(&log, &mut fold, last, |_, decoded| {
        if let Ok(env) = decoded {
            kinds.push(crate::common::samples::kind_name(&env.event).to_string());
        }
        Visit::Continue
    })
    .await
    .unwrap();
    (kinds, fold)
}

/// Waits up to `secs` seconds, polling every 100 ms, until `f` answers true.
pub async fn wait_until<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that nothing of container `name` and veth `veth` is left on the device: no
/// container, no mount list, no veth, no bridge port.
pub async fn gone_from_device(h: &Harness, name: &str, veth: &str) {
    let ros = ros(h).await;
    assert!(ros.find_container(name).await.unwrap().is_none(), "{name}");
    assert!(
        ros.list_mounts(name).await.unwrap().is_empty(),
        "{name}'s mounts"
    );
    assert!(ros.find_veth(veth).await.unwrap().is_none(), "{veth}");
    assert!(
        ros.ports_of(veth).await.unwrap().is_empty(),
        "{veth}'s port"
    );
}

/// POST/remove/set calls in the simulator journal (reads excluded).
pub async fn writes(h: &Harness) -> Vec<String> {
    h.journal()
        .await
        .into_iter()
        .filter(|c| c.method != "GET")
        .map(|c| c.line())
        .collect()
}
