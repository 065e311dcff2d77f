//! The reconcile decision (§5, pure): given the recorded state and one bulk read of each
//! device table, which pods need their worker, in creation order. A pod whose containers,
//! veths and bridge ports are all where its record says needs nothing — so a quiet pass
//! writes nothing to the device and appends nothing.

use crate::actors::ipam::state::IpamState;
use crate::actors::pods::state::PodsState;
use crate::pod::annotations;
use crate::pod::order::creation_order;
use crate::pod::{DesiredPod, Phase};
use crate::routeros::Observation;

/// Keys needing work: deleted pods still holding device objects first, then desired pods in
/// boot order (§7.4).
pub fn pods_needing_work(state: &PodsState, ipam: &IpamState, seen: &Observation) -> Vec<String> {
    let mut out: Vec<String> = state.deleting.keys().cloned().collect();
    let desired: Vec<(String, &k8s_openapi::api::core::v1::Pod)> = state
        .pods
        .iter()
        .map(|(k, p)| (k.clone(), &p.pod))
        .collect();
    for key in creation_order(&desired) {
        if let Some(p) = state.pods.get(&key)
            && needs_work(p, ipam, seen)
        {
            out.push(key);
        }
    }
    out
}

fn needs_work(p: &DesiredPod, ipam: &IpamState, seen: &Observation) -> bool {
    let spec = crate::pod::spec::containers(&p.pod);
    let static_ip = annotations::static_ip(&p.pod).ok().flatten();
    // An update dropped a container.
    if p.containers
        .keys()
        .any(|k| !spec.iter().any(|c| &c.name == k))
    {
        return true;
    }
    spec.iter().any(|c| {
        let Some(rec) = p.containers.get(&c.name) else {
            return true; // §5 step 3: create or adopt.
        };
        if rec.phase() != Phase::Started || rec.revision != p.revision {
            // An intent without its outcome (a crash between `ContainerCreated` and
            // `ContainerStarted` included), or an update not yet built.
            return true;
        }
        if !seen.containers.contains(&rec.device_name) {
            return true; // §5 step 3b: the container vanished.
        }
        if !rec.veth.is_empty()
            && (seen.veths.get(&rec.veth).is_none_or(String::is_empty)
                || !seen.ports.contains(&rec.veth))
        {
            // The veth or its bridge port vanished, or the veth lost its address (CC-5): the
            // worker ensures both with the recorded address.
            return true;
        }
        // §5 step 4b: the address IPAM holds differs from the static IP.
        static_ip.is_some_and(|want| rec.off_static_ip(want, ipam.address(&rec.network, &rec.veth)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::catalogue::PodSource;
    use crate::pod::DeviceContainer;
    use crate::pod::sample::SamplePod;
    use std::collections::{HashMap, HashSet};

    fn started_web() -> PodsState {
        let mut p = DesiredPod::new(
            SamplePod::on_device("default", "web", "x.tar").build(),
            PodSource::Api,
        );
        p.containers.insert(
            "app".into(),
            DeviceContainer {
                device_id: "*1".into(),
                started: true,
                veth: "veth_default_web_0".into(),
                network: "t".into(),
                ip: "127.77.0.2".into(),
                ..DeviceContainer::named("default_web_app")
            },
        );
        let mut state = PodsState::default();
        state.pods.insert("default/web".into(), p);
        state
    }

    fn seen(address: Option<&str>) -> Observation {
        Observation {
            at: std::time::Instant::now(),
            containers: HashSet::from(["default_web_app".to_string()]),
            veths: address
                .map(|a| HashMap::from([("veth_default_web_0".to_string(), a.to_string())]))
                .unwrap_or_default(),
            ports: HashSet::from(["veth_default_web_0".to_string()]),
            holders: HashMap::new(),
        }
    }

    #[test]
    fn a_quiet_pod_needs_nothing_a_veth_gone_or_without_address_needs_its_worker() {
        let state = started_web();
        let ipam = IpamState::default();
        assert!(pods_needing_work(&state, &ipam, &seen(Some("127.77.0.2/24"))).is_empty());
        assert_eq!(
            pods_needing_work(&state, &ipam, &seen(None)),
            ["default/web"]
        );
        assert_eq!(
            pods_needing_work(&state, &ipam, &seen(Some(""))),
            ["default/web"],
            "a veth that lost its address is detected"
        );
    }
}
