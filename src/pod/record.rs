//! What the log records of a pod: the desired object, its device containers (intent and
//! outcome of each, controller.md §3.1) and its lifecycle units (§7.1). Plain data; the pods
//! actor folds events into it (`actors::pods::state`), everything else reads it.

use crate::events::catalogue::PodSource;
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredPod {
    pub pod: Pod,
    pub source: PodSource,
    /// Device containers by spec container name.
    pub containers: BTreeMap<String, DeviceContainer>,
    pub last_failure: Option<String>,
    /// The `waiting` reason of the last failure (`PodCreateFailed.waitingReason`).
    #[serde(default)]
    pub failure_reason: String,
    /// Bumped by every `PodUpdated`; containers remember the revision they were built from.
    #[serde(default)]
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceContainer {
    pub device_name: String,
    pub device_id: String,
    pub adopted: bool,
    pub started: bool,
    #[serde(default)]
    pub veth: String,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub image_digest: String,
    /// `pod::env::digest` of the environment the container was built with.
    #[serde(default)]
    pub env_digest: String,
    /// `ContainerRemoving` was recorded.
    #[serde(default)]
    pub removing: bool,
}

impl DesiredPod {
    /// A newly declared pod: no device containers, no failure, revision 0.
    pub fn new(pod: Pod, source: PodSource) -> DesiredPod {
        DesiredPod {
            pod,
            source,
            containers: BTreeMap::new(),
            last_failure: None,
            failure_reason: String::new(),
            revision: 0,
        }
    }

    /// A record for device containers of a pod whose spec is gone.
    pub fn placeholder(namespace: &str, name: &str) -> DesiredPod {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some(namespace.to_string());
        pod.metadata.name = Some(name.to_string());
        DesiredPod::new(pod, PodSource::Api)
    }
}

impl DeviceContainer {
    /// A container known only by its device name (an outcome whose intent predates intents).
    pub fn named(device_name: &str) -> DeviceContainer {
        DeviceContainer {
            device_name: device_name.to_string(),
            device_id: String::new(),
            adopted: false,
            started: false,
            veth: String::new(),
            network: String::new(),
            ip: String::new(),
            revision: 0,
            image_digest: String::new(),
            env_digest: String::new(),
            removing: false,
        }
    }

    /// The outcome (`ContainerCreated`) was recorded, not only the intent.
    pub fn is_created(&self) -> bool {
        !self.device_id.is_empty()
    }

    /// Where the container stands, from the facts recorded of it.
    pub fn phase(&self) -> Phase {
        if self.removing {
            Phase::Removing
        } else if !self.is_created() {
            Phase::Intended
        } else if self.started {
            Phase::Started
        } else {
            Phase::Created
        }
    }

    /// §5 step 4b: the pod's static IP is `want`, but this container was built with another
    /// address, or IPAM holds another (`held`) for its veth.
    pub fn off_static_ip(
        &self,
        want: std::net::Ipv4Addr,
        held: Option<std::net::Ipv4Addr>,
    ) -> bool {
        self.ip != want.to_string() || held.is_some_and(|ip| ip != want)
    }

    /// `intent` is what this record already intends (same device name, veth, network,
    /// address, revision, image and env), so recording it again would add nothing. A record
    /// being removed intends nothing.
    pub fn intends(&self, intent: &DeviceContainer) -> bool {
        self.device_name == intent.device_name
            && self.veth == intent.veth
            && self.network == intent.network
            && self.ip == intent.ip
            && self.revision == intent.revision
            && self.image_digest == intent.image_digest
            && self.env_digest == intent.env_digest
            && !self.removing
    }
}

/// A device container's phase (§3.1, §3.2), derived from its record: the record keeps the
/// facts (`deviceId`, `started`, `removing`), so snapshots and events keep their shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `ContainerCreating` recorded, its outcome not (yet): the device may hold a row.
    Intended,
    /// `ContainerCreated` recorded, `ContainerStarted` not.
    Created,
    /// Created and started.
    Started,
    /// `ContainerRemoving` recorded: a teardown began (whatever came before).
    Removing,
}

impl Phase {
    /// The outcome of a create was recorded and no teardown began.
    pub fn is_built(self) -> bool {
        matches!(self, Phase::Created | Phase::Started)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    pub pod: String,
    pub restart_policy: String,
    pub start_on_boot: bool,
    pub priority: i64,
    pub depends_on: Vec<String>,
    pub restarts: u32,
    pub failed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_follows_the_recorded_facts() {
        let mut c = DeviceContainer::named("ns_p_c");
        assert_eq!(c.phase(), Phase::Intended);
        c.device_id = "*1".into();
        assert_eq!(c.phase(), Phase::Created);
        c.started = true;
        assert_eq!(c.phase(), Phase::Started);
        c.removing = true;
        assert_eq!(c.phase(), Phase::Removing);
        c.device_id.clear();
        assert_eq!(
            c.phase(),
            Phase::Removing,
            "a teardown wins over any outcome"
        );
        assert!(Phase::Created.is_built() && Phase::Started.is_built());
        assert!(!Phase::Intended.is_built() && !Phase::Removing.is_built());
    }

    #[test]
    fn a_record_intends_only_the_same_intent_and_not_while_removing() {
        let intent = DeviceContainer {
            veth: "veth_ns_p_0".into(),
            network: "t".into(),
            ip: "10.0.0.5".into(),
            revision: 2,
            image_digest: "sha256:a".into(),
            env_digest: "e".into(),
            ..DeviceContainer::named("ns_p_c")
        };
        let mut rec = intent.clone();
        rec.device_id = "*1".into();
        rec.started = true;
        assert!(rec.intends(&intent), "outcomes do not matter");
        let differs: [fn(&mut DeviceContainer); 7] = [
            |r| r.device_name.push('x'),
            |r| r.veth.push('x'),
            |r| r.network.push('x'),
            |r| r.ip.push('0'),
            |r| r.revision += 1,
            |r| r.image_digest.push('x'),
            |r| r.env_digest.push('x'),
        ];
        for change in differs {
            let mut other = rec.clone();
            change(&mut other);
            assert!(!other.intends(&intent), "{other:?}");
        }
        rec.removing = true;
        assert!(!rec.intends(&intent));
    }

    #[test]
    fn off_static_ip_when_built_or_held_elsewhere() {
        let want: std::net::Ipv4Addr = "10.0.0.5".parse().unwrap();
        let mut c = DeviceContainer::named("ns_p_c");
        c.ip = "10.0.0.5".into();
        assert!(!c.off_static_ip(want, None));
        assert!(!c.off_static_ip(want, Some(want)));
        assert!(c.off_static_ip(want, Some("10.0.0.6".parse().unwrap())));
        c.ip = "10.0.0.7".into();
        assert!(c.off_static_ip(want, Some(want)));
    }

    #[test]
    fn records_without_the_later_fields_still_decode() {
        // A record as the first versions wrote it (no intent fields, no `removing`).
        let old = serde_json::json!({
            "deviceName": "ns_p_c", "deviceId": "*1", "adopted": false, "started": true
        });
        let c: DeviceContainer = serde_json::from_value(old).unwrap();
        assert_eq!(c.phase(), Phase::Started);
    }
}
