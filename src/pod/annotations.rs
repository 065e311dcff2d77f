//! The annotations of controller.md §1.2, each with its one parser: what a pod asks of mkube
//! beyond the Kubernetes spec (its network, a static address, a device tarball, auto-update,
//! DNS aliases and namespace, boot order). Values are trimmed; an empty value is absent.

use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;

pub const ANN_NETWORK: &str = "vkube.io/network";
pub const ANN_STATIC_IP: &str = "vkube.io/static-ip";
pub const ANN_FILE: &str = "vkube.io/file";
pub const ANN_IMAGE_POLICY: &str = "vkube.io/image-policy";
pub const ANN_BOOT_PRIORITY: &str = "vkube.io/boot-priority";
pub const ANN_DEPENDS_ON: &str = "vkube.io/depends-on";
pub const ANN_ALIASES: &str = "vkube.io/aliases";
pub const ANN_NAMESPACE: &str = "vkube.io/namespace";

/// The trimmed, non-empty value of annotation `key`.
pub fn get<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// `vkube.io/network`; `None` means the first configured network.
pub fn network(pod: &Pod) -> Option<&str> {
    get(pod, ANN_NETWORK)
}

/// `vkube.io/static-ip`: `Ok(None)` when absent, `Err` when not an IPv4 address.
pub fn static_ip(pod: &Pod) -> Result<Option<Ipv4Addr>, String> {
    match get(pod, ANN_STATIC_IP) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{ANN_STATIC_IP} {v:?} is not an IPv4 address")),
    }
}

/// `vkube.io/aliases` (§1.2, NAME-9): `(name, container)` pairs; a bare entry names the
/// first container (`None`). Entries are trimmed and empty ones dropped. The pod name itself
/// is not included (callers add it first).
pub fn aliases(pod: &Pod) -> Vec<(String, Option<String>)> {
    let Some(raw) = get(pod, ANN_ALIASES) else {
        return Vec::new();
    };
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|entry| match entry.split_once('=') {
            Some((name, ctr)) => {
                let (name, ctr) = (name.trim(), ctr.trim());
                (!name.is_empty()).then(|| (name.to_string(), Some(ctr.to_string())))
            }
            None => Some((entry.to_string(), None)),
        })
        .collect()
}

/// `vkube.io/namespace` (§1.2): the namespace whose DNS zone also receives the pod's names.
pub fn dns_namespace(pod: &Pod) -> Option<&str> {
    get(pod, ANN_NAMESPACE)
}

/// `vkube.io/file`: a device tarball path used verbatim.
pub fn file(pod: &Pod) -> Option<&str> {
    get(pod, ANN_FILE)
}

/// `vkube.io/image-policy: auto` without `vkube.io/file`: recreate when the registry digest
/// changes (§1.2, §5 step 3c).
pub fn auto_update(pod: &Pod) -> bool {
    get(pod, ANN_IMAGE_POLICY) == Some("auto") && file(pod).is_none()
}

/// `vkube.io/boot-priority`, else `index*10` (index in the desired set).
pub fn boot_priority(pod: &Pod, index: usize) -> i64 {
    get(pod, ANN_BOOT_PRIORITY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(index as i64 * 10)
}

/// `vkube.io/depends-on`: RouterOS container names, split on `,`, not trimmed (§1.2).
pub fn depends_on(pod: &Pod) -> Vec<String> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_DEPENDS_ON))
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}
