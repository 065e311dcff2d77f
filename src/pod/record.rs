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
