//! A desired pod's network as the device shows it (CC-5, CC-R4): each container's veth is
//! there, carries an address, and carries the `vkube.io/static-ip` when one is set. And the
//! three-strike rule: a pod broken three passes in a row is rebuilt with fresh veths and
//! addresses; a healthy one has its counter cleared. Pure.

use crate::pod::spec::containers;
use crate::pod::{DesiredPod, PodKey, annotations, names};
use crate::routeros::Veth;
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Consecutive broken passes that rebuild a pod (CC-R4).
pub const STRIKES: u32 = 3;

/// One container's veth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetHealth {
    Healthy { ip: Ipv4Addr },
    VethMissing,
    NoAddress,
    StaticMismatch { expected: Ipv4Addr, actual: String },
}

impl NetHealth {
    pub fn is_healthy(&self) -> bool {
        matches!(self, NetHealth::Healthy { .. })
    }
}

/// Each container's veth (the recorded one, else NAME-2) and its health, in spec order.
/// `record` is the pod's record in the pods fold (a boot-manifest pod may have none yet).
pub fn pod_network(
    pod: &Pod,
    record: Option<&DesiredPod>,
    veths: &HashMap<&str, &Veth>,
) -> Vec<(String, NetHealth)> {
    let key = PodKey::of(pod);
    let want = annotations::static_ip(pod).ok().flatten();
    containers(pod)
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let veth = record
                .and_then(|r| r.containers.get(&c.name))
                .map(|rec| rec.veth.clone())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| names::veth_name(&key.namespace, &key.name, i));
            let health = match veths.get(veth.as_str()) {
                None => NetHealth::VethMissing,
                Some(v) => match v.ipv4().and_then(|c| c.split('/').next()?.parse().ok()) {
                    None => NetHealth::NoAddress,
                    Some(ip) if want.is_some_and(|w| w != ip) => NetHealth::StaticMismatch {
                        expected: want.unwrap_or(ip),
                        actual: ip.to_string(),
                    },
                    Some(ip) => NetHealth::Healthy { ip },
                },
            };
            (veth, health)
        })
        .collect()
}

/// Why the pod's network is broken, if it is (the first broken container).
pub fn broken(network: &[(String, NetHealth)]) -> Option<String> {
    network.iter().find_map(|(veth, h)| match h {
        NetHealth::Healthy { .. } => None,
        NetHealth::VethMissing => Some(format!("veth {veth} missing on device")),
        NetHealth::NoAddress => Some(format!("veth {veth} has no IP address")),
        NetHealth::StaticMismatch { expected, actual } => Some(format!(
            "veth {veth} carries {actual}, not its static IP {expected}"
        )),
    })
}

/// What a pass does with a pod's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Healthy, no counter.
    Nothing,
    /// Healthy again: clear the counter (`NetworkRecovered`).
    Recover,
    /// Broken but left alone this pass (work pending, redeploying, in its grace period): the
    /// counter does not move.
    Skip,
    /// Broken: the counter becomes this (`NetworkFailureCounted`).
    Count(u32),
    /// Broken the `STRIKES`th time or more: count, and rebuild fresh.
    Rebuild(u32),
}

/// The counter moves once per pass (§6.3 CC-R4).
pub fn strike(broken: bool, failures: u32, skip: bool) -> Strike {
    match (broken, failures, skip) {
        (false, 0, _) => Strike::Nothing,
        (false, _, _) => Strike::Recover,
        (true, _, true) => Strike::Skip,
        (true, n, false) if n + 1 >= STRIKES => Strike::Rebuild(n + 1),
        (true, n, false) => Strike::Count(n + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::consistency::fixtures::*;
    use crate::pod::sample::SamplePod;

    fn by_name(veths: &[Veth]) -> HashMap<&str, &Veth> {
        veths.iter().map(|v| (v.name.as_str(), v)).collect()
    }

    #[test]
    fn cc5_missing_no_address_static_mismatch_and_healthy() {
        let (_, web) = running("default", "web", "127.77.0.2");
        let veths = [veth("veth_default_web_0", "*1", "127.77.0.2/24")];
        let net = pod_network(&web.pod, Some(&web), &by_name(&veths));
        assert_eq!(
            net,
            [(
                "veth_default_web_0".to_string(),
                NetHealth::Healthy {
                    ip: "127.77.0.2".parse().unwrap()
                }
            )]
        );
        assert_eq!(broken(&net), None);
        assert_eq!(
            pod_network(&web.pod, Some(&web), &HashMap::new())[0].1,
            NetHealth::VethMissing
        );
        let bare = [veth("veth_default_web_0", "*1", "")];
        assert_eq!(
            pod_network(&web.pod, Some(&web), &by_name(&bare))[0].1,
            NetHealth::NoAddress
        );
        let fixed = SamplePod::on_device("default", "web", "x.tar")
            .annotation("vkube.io/static-ip", "127.77.0.50")
            .build();
        let net = pod_network(&fixed, None, &by_name(&veths));
        assert_eq!(
            net[0].1,
            NetHealth::StaticMismatch {
                expected: "127.77.0.50".parse().unwrap(),
                actual: "127.77.0.2".into()
            }
        );
        assert!(
            broken(&net)
                .unwrap()
                .contains("not its static IP 127.77.0.50")
        );
    }

    #[test]
    fn cc_r4_three_broken_passes_rebuild_and_health_clears() {
        assert_eq!(strike(true, 0, false), Strike::Count(1));
        assert_eq!(strike(true, 1, false), Strike::Count(2));
        assert_eq!(strike(true, 2, false), Strike::Rebuild(3));
        assert_eq!(strike(true, 3, false), Strike::Rebuild(4));
        assert_eq!(
            strike(true, 2, true),
            Strike::Skip,
            "skipped pods do not move"
        );
        assert_eq!(
            strike(false, 2, true),
            Strike::Recover,
            "health clears even when skipped"
        );
        assert_eq!(strike(false, 0, false), Strike::Nothing);
    }
}
