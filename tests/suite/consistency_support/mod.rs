//! Shared setup of the consistency checker's tests (§6): an engine environment with the
//! repair pass on, device objects planted through the simulator's REST API, and the
//! checker's facts read back from the log.
#![allow(dead_code)]

use crate::engine_support::*;
use crate::routeros_support::Harness;
use mkube::actors::consistency::{RepairReport, RunRepair};
use mkube::actors::replay::{Visit, fold_log};
use mkube::actors::wiring::Cluster;
use mkube::config::Config;
use mkube::events::catalogue::ConsistencyEvent;
use mkube::events::{Event, EventLog};
use mkube::routeros::{ContainerSpec, ImageSource, Props, RosClient};

/// `cfg` with the repair pass on. Its triggers wait an hour (tests run passes with
/// `RunRepair`), reports are never served from the cache, and CC-R4 has no grace (L-4).
pub fn checker(mut cfg: Config) -> Config {
    cfg.consistency.repair = true;
    cfg.consistency.delay_seconds = 3600.0;
    cfg.consistency.report_max_age_seconds = 0.0;
    cfg.lifecycle.recreate_grace_seconds = 0.0;
    cfg
}

pub async fn repair(c: &Cluster) -> RepairReport {
    c.consistency
        .send(RunRepair)
        .await
        .expect("consistency actor")
}

/// A running container of NAME-1 `<ns>_<name>_app` on veth NAME-2 `veth_<ns>_<name>_0` with
/// `address` and a bridge port — what a pod of that name would have, but no pod claims it.
pub async fn plant_orphan(env: &Env, ns: &str, name: &str, address: &str) {
    plant_orphan_on(&env.h, &env.cfg, ns, name, address).await
}

/// [`plant_orphan`] on device `h` with the network of `cfg`.
pub async fn plant_orphan_on(h: &Harness, cfg: &Config, ns: &str, name: &str, address: &str) {
    let ros = ros(h).await;
    let veth = mkube::pod::names::veth_name(ns, name, 0);
    ros.ensure_veth(&veth, address, "127.77.0.1").await.unwrap();
    ros.ensure_bridge_port("t", &veth).await.unwrap();
    let mut p = mkube::pod::sample::SamplePod::on_device(ns, name, TARBALL).build();
    p.spec.as_mut().unwrap().containers[0].volume_mounts = None;
    let net = &cfg.networks[0];
    let planned = mkube::actors::pods::plan::container_plan(cfg, &p, 0, net, TARBALL).unwrap();
    start(&ros, &planned.spec).await;
}

/// A running start-on-boot container `name` of no pod (the operator's own, LC-1).
pub async fn plant_foreign(h: &Harness, name: &str) {
    let ros = ros(h).await;
    let mut spec = ContainerSpec::new(
        name,
        ImageSource::File(TARBALL.into()),
        "",
        format!("raid1/images/{name}"),
    );
    spec.start_on_boot = true;
    spec.cmd = "/bin/app".into();
    start(&ros, &spec).await;
}

async fn start(ros: &RosClient, spec: &ContainerSpec) {
    let id = ros.add_container(spec).await.expect("added");
    ros.wait_extracted(&spec.name).await.expect("extracted");
    ros.start_container(&id).await.expect("started");
    ros.wait_running(&spec.name).await.expect("running");
}

/// Sets a veth's address on the device behind mkube's back (`""`: none).
pub async fn set_address(h: &Harness, veth: &str, address: &str) {
    let ros = ros(h).await;
    let row = ros.find_veth(veth).await.unwrap().expect("veth");
    ros.post(
        "/interface/veth/set",
        &Props::new().set(".id", &row.id).set("address", address),
    )
    .await
    .unwrap();
}

pub async fn running(h: &Harness, name: &str) -> bool {
    ros(h)
        .await
        .find_container(name)
        .await
        .unwrap()
        .is_some_and(|c| c.state.is_running())
}

pub async fn container_id(h: &Harness, name: &str) -> Option<String> {
    ros(h)
        .await
        .find_container(name)
        .await
        .unwrap()
        .map(|c| c.id)
}

/// The checker's facts in the log, in order.
pub async fn facts(log: &EventLog) -> Vec<ConsistencyEvent> {
    let last = log.last_sequence().await.unwrap();
    let mut fold = mkube::actors::cluster::Fold::default();
    let mut out = Vec::new();
    fold_log(log, &mut fold, last, |_, decoded| {
        if let Ok(env) = decoded
            && let Event::Consistency(e) = &env.event
        {
            out.push(e.clone());
        }
        Visit::Continue
    })
    .await
    .unwrap();
    out
}

/// `(resource, name)` of every `OrphanReaped` in `facts`.
pub fn reaped(facts: &[ConsistencyEvent]) -> Vec<(String, String)> {
    facts
        .iter()
        .filter_map(|e| match e {
            ConsistencyEvent::OrphanReaped { resource, name, .. } => {
                Some((resource.clone(), name.clone()))
            }
            _ => None,
        })
        .collect()
}

pub fn pair(resource: &str, name: &str) -> (String, String) {
    (resource.to_string(), name.to_string())
}
