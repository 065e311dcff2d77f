//! Device rows, pods and folds for the checker's unit tests.

use crate::actors::ipam::state::{Allocation, IpamState};
use crate::actors::pods::state::PodsState;
use crate::events::catalogue::PodSource;
use crate::pod::sample::SamplePod;
use crate::pod::{DesiredPod, DeviceContainer};
use crate::routeros::{Container, DeviceSnapshot, FromRow, Row, Veth};
use k8s_openapi::api::core::v1::Pod;

pub fn container(name: &str, id: &str, interface: &str, running: bool) -> Container {
    Container::from_row(&Row::from_value(serde_json::json!({
        ".id": id,
        "name": name,
        "interface": interface,
        "running": if running { "true" } else { "false" },
        "stopped": if running { "false" } else { "true" },
    })))
}

pub fn veth(name: &str, id: &str, address: &str) -> Veth {
    Veth {
        id: id.into(),
        name: name.into(),
        address: address.into(),
        ..Veth::default()
    }
}

pub fn device(containers: Vec<Container>, veths: Vec<Veth>) -> DeviceSnapshot {
    DeviceSnapshot {
        containers,
        veths,
        ..DeviceSnapshot::default()
    }
}

pub fn pod(ns: &str, name: &str) -> Pod {
    SamplePod::on_device(ns, name, "x.tar").build()
}

/// A desired pod whose one container `app` was created and started on `veth` with `ip`.
pub fn running(ns: &str, name: &str, ip: &str) -> (String, DesiredPod) {
    running_pod(pod(ns, name), ip)
}

pub fn running_pod(p: Pod, ip: &str) -> (String, DesiredPod) {
    let key = crate::pod::PodKey::of(&p);
    let mut d = DesiredPod::new(p, PodSource::Api);
    d.containers.insert(
        "app".into(),
        DeviceContainer {
            device_id: "*1".into(),
            started: true,
            veth: crate::pod::names::veth_name(&key.namespace, &key.name, 0),
            network: "t".into(),
            ip: ip.into(),
            ..DeviceContainer::named(&crate::pod::names::container_name(
                &key.namespace,
                &key.name,
                "app",
            ))
        },
    );
    (key.to_string(), d)
}

pub fn pods(desired: Vec<(String, DesiredPod)>) -> PodsState {
    PodsState {
        pods: desired.into_iter().collect(),
        ..PodsState::default()
    }
}

pub fn ipam(entries: &[(&str, &str)]) -> IpamState {
    let mut s = IpamState::default();
    for (key, ip) in entries {
        s.pools.entry("t".into()).or_default().insert(
            key.to_string(),
            Allocation {
                ip: ip.parse().unwrap(),
                hostname: String::new(),
                is_static: false,
                from_device: false,
            },
        );
    }
    s
}
