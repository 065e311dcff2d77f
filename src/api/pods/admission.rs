//! Admission of pods before anything is appended (controller.md §1.2, IPAM-3, IPAM-8): names,
//! annotations and unsupported spec fields. Pure: a decision from the pod, the configured
//! networks and the desired pods, with the offending field named in the error.

use crate::actors::pods::state::PodsState;
use crate::api::machinery::decode::valid_name;
use crate::api::machinery::status::ApiError;
use crate::config::Network;
use crate::pod::annotations;
use k8s_openapi::api::core::v1::{Pod, Probe};
use std::net::Ipv4Addr;

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("{field}: {message}"))
}

/// The static IPv4 a pod asks for, as written (trimmed; absent or empty = dynamic).
fn static_ip_of(pod: &Pod) -> Option<&str> {
    annotations::get(pod, annotations::ANN_STATIC_IP)
}

/// A pod this controller records runs on its node: a `spec.nodeName` naming another node was
/// for that node's controller (the fleet layer forwards it there; issue 16), and is refused
/// here rather than recorded as a lie.
pub fn admit_node(pod: &Pod, node: &str) -> Result<(), ApiError> {
    match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
        Some(n) if !n.is_empty() && n != node => Err(invalid(
            "spec.nodeName",
            format!("Invalid value: {n:?}: this controller runs node {node:?}"),
        )),
        _ => Ok(()),
    }
}

/// Admits `pod` (already named and namespaced) against the networks and the other desired
/// pods. `key` is its pod key, excluded from conflict checks (an update keeps its own IP).
pub fn admit_pod(
    pod: &Pod,
    key: &str,
    networks: &[Network],
    desired: &PodsState,
) -> Result<(), ApiError> {
    let spec = pod
        .spec
        .as_ref()
        .ok_or_else(|| invalid("spec", "Required value"))?;
    if spec.containers.is_empty() {
        return Err(invalid("spec.containers", "Required value"));
    }
    // `vkube.io/file` names a tarball on the device: nothing is pulled, so no image is needed.
    let fixed_tarball = annotations::file(pod).is_some();
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let field = format!("spec.containers[{i}]");
        valid_name(&c.name).map_err(|e| {
            invalid(
                &format!("{field}.name"),
                e.replace("metadata.name: ", "").replace("pod name", "name"),
            )
        })?;
        if !seen.insert(c.name.as_str()) {
            return Err(invalid(
                &format!("{field}.name"),
                format!("Duplicate value: {:?}", c.name),
            ));
        }
        if !fixed_tarball && c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            return Err(invalid(&format!("{field}.image"), "Required value"));
        }
        if let Err((at, message)) = crate::pod::env::check(c) {
            return Err(invalid(&format!("{field}.{at}"), message));
        }
        for (probe, which) in [
            (&c.startup_probe, "startupProbe"),
            (&c.liveness_probe, "livenessProbe"),
            (&c.readiness_probe, "readinessProbe"),
        ] {
            if probe.as_ref().is_some_and(|p: &Probe| p.exec.is_some()) {
                return Err(invalid(
                    &format!("{field}.{which}.exec"),
                    "Unsupported value: exec probes cannot run in RouterOS containers; use httpGet or tcpSocket",
                ));
            }
        }
    }
    let network = match annotations::network(pod) {
        Some(name) => networks.iter().find(|n| n.name == name).ok_or_else(|| {
            invalid(
                &format!("metadata.annotations[{}]", annotations::ANN_NETWORK),
                format!("network {name:?} not found"),
            )
        })?,
        None => networks
            .first()
            .ok_or_else(|| ApiError::internal("no network is configured"))?,
    };
    if let Some(priority) = annotations::get(pod, annotations::ANN_BOOT_PRIORITY)
        && priority.parse::<i64>().is_err()
    {
        return Err(invalid(
            &format!("metadata.annotations[{}]", annotations::ANN_BOOT_PRIORITY),
            format!("Invalid value: {priority:?}: must be an integer"),
        ));
    }
    if let Some(ip) = static_ip_of(pod) {
        check_static_ip(ip, spec.containers.len(), network, key, desired, networks)?;
    }
    Ok(())
}

fn check_static_ip(
    raw: &str,
    containers: usize,
    network: &Network,
    key: &str,
    desired: &PodsState,
    networks: &[Network],
) -> Result<(), ApiError> {
    let field = format!("metadata.annotations[{}]", annotations::ANN_STATIC_IP);
    // IPAM-8: every container would ask for the same address; the second one must fail.
    if containers > 1 {
        return Err(invalid(
            &field,
            format!(
                "Forbidden: a static IP applies to a single-container pod; this pod has {containers} containers (IPAM-8)"
            ),
        ));
    }
    let ip: Ipv4Addr = raw.parse().map_err(|_| {
        invalid(
            &field,
            format!("Invalid value: {raw:?}: not an IPv4 address"),
        )
    })?;
    let subnet = network
        .try_subnet()
        .map_err(|e| ApiError::internal(format!("network {}: {e}", network.name)))?;
    if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
        return Err(invalid(
            &field,
            format!(
                "Invalid value: {raw:?}: not a host address of network {:?} ({subnet})",
                network.name
            ),
        ));
    }
    if network.try_gateway_ip().is_ok_and(|g| g == ip) {
        return Err(invalid(
            &field,
            format!(
                "Invalid value: {raw:?}: is the gateway of network {:?}",
                network.name
            ),
        ));
    }
    let holder = desired.pods.iter().find(|(other, p)| {
        other.as_str() != key
            && static_ip_of(&p.pod) == Some(raw)
            && crate::pod::network_of(&p.pod, networks).map(|n| &n.name) == Ok(&network.name)
    });
    if let Some((other, _)) = holder {
        return Err(invalid(
            &field,
            format!("Invalid value: {raw:?}: already allocated to pod {other}"),
        ));
    }
    Ok(())
}
