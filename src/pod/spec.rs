//! The pod's spec as mkube reads it: a pod without a spec has no containers.

use k8s_openapi::api::core::v1::{Container, Pod};

/// The pod's containers, in spec order (the order veths are numbered in, NAME-2).
pub fn containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
}
