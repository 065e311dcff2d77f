use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

/// Where a desired pod came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PodSource {
    /// Created through the Kubernetes API.
    Api,
    /// Seeded from the boot-order manifest (DS-2).
    Manifest,
}

/// Desired pods and their containers on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum PodsEvent {
    /// A pod became desired.
    PodDeclared {
        namespace: String,
        name: String,
        source: PodSource,
        pod: Box<Pod>,
    },
    /// The desired spec of a pod was replaced (PUT or PATCH).
    PodUpdated {
        namespace: String,
        name: String,
        pod: Box<Pod>,
    },
    /// The pod is no longer desired.
    PodDeleted { namespace: String, name: String },
    /// Intent, recorded before touching the device: the worker is about to create (or adopt)
    /// `device_name` on `veth` with `ip` in `network`, from spec revision `revision`.
    ContainerCreating {
        namespace: String,
        name: String,
        container: String,
        device_name: String,
        veth: String,
        network: String,
        ip: String,
        revision: u64,
        /// Registry digest of the image (`sha256:…`); empty for `vkube.io/file`.
        image_digest: String,
        /// `pod::env::digest` of the environment the container is built with; empty for none.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        env_digest: String,
    },
    /// Intent, recorded before touching the device: the worker is about to remove the
    /// container, its mount list, veth and address.
    ContainerRemoving {
        namespace: String,
        name: String,
        container: String,
    },
    /// A deleted pod's device objects are all gone; the pod is forgotten.
    PodRemoved { namespace: String, name: String },
    /// A device container exists for one container of the pod (created or adopted by name).
    ContainerCreated {
        namespace: String,
        name: String,
        container: String,
        device_name: String,
        device_id: String,
        adopted: bool,
    },
    /// The device container was started.
    ContainerStarted {
        namespace: String,
        name: String,
        container: String,
    },
    /// The device container is gone.
    ContainerRemoved {
        namespace: String,
        name: String,
        container: String,
    },
    /// Creating the pod failed; the reconciler will try again after a back-off.
    PodCreateFailed {
        namespace: String,
        name: String,
        reason: String,
        /// The Kubernetes `waiting` reason the pod shows (`CreateContainerConfigError` when the
        /// container's configuration is incomplete); empty means `CreateFailed`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        waiting_reason: String,
    },
}

impl PodsEvent {
    pub fn pod_key(&self) -> (&str, &str) {
        match self {
            PodsEvent::PodDeclared {
                namespace, name, ..
            }
            | PodsEvent::PodUpdated {
                namespace, name, ..
            }
            | PodsEvent::PodDeleted { namespace, name }
            | PodsEvent::PodRemoved { namespace, name }
            | PodsEvent::ContainerCreating {
                namespace, name, ..
            }
            | PodsEvent::ContainerRemoving {
                namespace, name, ..
            }
            | PodsEvent::ContainerCreated {
                namespace, name, ..
            }
            | PodsEvent::ContainerStarted {
                namespace, name, ..
            }
            | PodsEvent::ContainerRemoved {
                namespace, name, ..
            }
            | PodsEvent::PodCreateFailed {
                namespace, name, ..
            } => (namespace, name),
        }
    }

    pub fn key(&self) -> Vec<String> {
        let (ns, name) = self.pod_key();
        vec![ns.to_string(), name.to_string()]
    }
}
