//! The checks read from the device: CC-1 (boot-manifest containers and their veths), CC-4
//! (IPAM against the device's veths, static IPs of boot-manifest pods) and CC-5 (every
//! desired pod's network).

use super::ReportFacts;
use crate::actors::checks::Check;
use crate::actors::consistency::claims::desired_keys;
use crate::actors::consistency::manifest::ManifestView;
use crate::actors::consistency::network::{NetHealth, STRIKES, pod_network};
use crate::pod::names::{container_name, is_veth_name_shape, veth_name};
use crate::pod::spec::containers as spec_containers;
use crate::pod::{PodKey, annotations};
use crate::routeros::Veth;
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// The `boot-manifest` item when no manifest pods can be checked (CC-1, CC-3).
pub(super) fn manifest_missing(manifest: &ManifestView, load_item: &str) -> Option<Check> {
    match manifest {
        ManifestView::NotConfigured => Some(Check::warn(
            "boot-manifest",
            "no boot manifest path configured",
            "",
        )),
        ManifestView::Failed(e) => Some(Check::fail(
            load_item,
            format!("failed to load manifest: {e}"),
            "",
        )),
        ManifestView::Loaded(_) => None,
    }
}

/// CC-1: each boot-manifest pod's containers on the device, then their veths in IPAM.
pub(super) fn containers(f: &ReportFacts) -> Vec<Check> {
    if let Some(item) = manifest_missing(f.manifest, "boot-manifest") {
        return vec![item];
    }
    let mut out = Vec::new();
    if let Err(e) = f.device {
        out.push(Check::fail(
            "device",
            format!("failed to read the device: {e}"),
            "",
        ));
    }
    for pod in f.manifest.pods() {
        let key = PodKey::of(pod);
        for (i, c) in spec_containers(pod).iter().enumerate() {
            let name = container_name(&key.namespace, &key.name, &c.name);
            if let Ok(device) = f.device {
                let label = format!("container/{}/{}", key.name, c.name);
                out.push(match device.container(&name) {
                    None => Check::fail(
                        label,
                        "container not found",
                        format!("expected RouterOS container {name:?}"),
                    ),
                    Some(row) if !row.state.is_running() => Check::fail(
                        label,
                        format!("container exists but status is {:?}", row.state.label()),
                        format!("id={}", row.id),
                    ),
                    Some(row) => Check::pass(label, "running", format!("id={}", row.id)),
                });
            }
            let veth = veth_name(&key.namespace, &key.name, i);
            let label = format!("veth/{veth}");
            out.push(if f.ipam.networks_of(&veth).next().is_some() {
                Check::pass(label, "veth allocated", "")
            } else {
                Check::fail(label, "veth not found in allocations", "")
            });
        }
    }
    out
}

/// The address part of a veth's first IPv4 CIDR.
fn address_of(v: &Veth) -> Option<Ipv4Addr> {
    v.ipv4()?.split('/').next()?.parse().ok()
}

/// CC-4: every IPAM entry against the device, every managed veth against IPAM, and the
/// static IPs of boot-manifest pods against their allocations.
pub(super) fn ipam(f: &ReportFacts) -> Vec<Check> {
    let device = match f.device {
        Ok(d) => d,
        Err(e) => {
            return vec![Check::fail(
                "ipam-ports",
                format!("failed to list actual ports: {e}"),
                "",
            )];
        }
    };
    let veths: HashMap<&str, &Veth> = device.veths.iter().map(|v| (v.name.as_str(), v)).collect();
    let mut out = Vec::new();
    for (key, alloc) in f.ipam.pools.values().flatten() {
        let label = format!("ipam/{key}");
        out.push(match veths.get(key.as_str()) {
            None => Check::warn(
                label,
                "IPAM entry exists but veth not found on device (orphan)",
                format!("ipam_ip={}", alloc.ip),
            ),
            Some(v) if address_of(v) == Some(alloc.ip) => {
                Check::pass(label, "IPAM matches actual", format!("ip={}", alloc.ip))
            }
            Some(v) => Check::fail(
                label,
                "IP mismatch between IPAM and actual veth",
                format!(
                    "ipam={} actual={}",
                    alloc.ip,
                    address_of(v).map_or_else(|| v.address.clone(), |ip| ip.to_string())
                ),
            ),
        });
    }
    for v in device.veths.iter().filter(|v| is_veth_name_shape(&v.name)) {
        if f.ipam.networks_of(&v.name).next().is_none() {
            out.push(Check::fail(
                format!("ipam/{}", v.name),
                "veth exists on device but not in IPAM",
                format!("actual_ip={}", v.address),
            ));
        }
    }
    for pod in f.manifest.pods() {
        let Some(want) = annotations::static_ip(pod).ok().flatten() else {
            continue;
        };
        let key = PodKey::of(pod);
        for veth in crate::pod::names::veth_names(pod) {
            let held = f.ipam.pools.values().find_map(|p| p.get(&veth));
            let Some(alloc) = held else {
                continue;
            };
            let label = format!("static-ip/{}/{veth}", key.name);
            out.push(if alloc.ip == want {
                Check::pass(label, "static IP matches allocation", format!("ip={want}"))
            } else {
                Check::fail(
                    label,
                    "static IP mismatch",
                    format!("expected={want} actual={}", alloc.ip),
                )
            });
        }
    }
    out
}

/// CC-5: every desired pod's (DS-5) containers' veths; the counters only show, the report
/// never moves them.
pub(super) fn network(f: &ReportFacts) -> Vec<Check> {
    let device = match f.device {
        Ok(d) => d,
        Err(e) => {
            return vec![Check::fail(
                "network-ports",
                format!("failed to list actual ports: {e}"),
                "",
            )];
        }
    };
    let veths: HashMap<&str, &Veth> = device.veths.iter().map(|v| (v.name.as_str(), v)).collect();
    let manifest = f.manifest.pods();
    let mut out = Vec::new();
    for key in desired_keys(f.pods, manifest) {
        let record = f.pods.pods.get(&key);
        let pod = match record {
            Some(r) => &r.pod,
            None => match manifest.iter().find(|p| PodKey::of(p).to_string() == key) {
                Some(p) => p,
                None => continue,
            },
        };
        let failures = f.counters.failures(&key);
        for (veth, health) in pod_network(pod, record, &veths) {
            let label = format!("network/{key}/{veth}");
            out.push(match health {
                NetHealth::VethMissing => Check::fail(label, "veth missing on device", ""),
                NetHealth::NoAddress => {
                    Check::fail(label, "veth has no IP address", format!("veth={veth}"))
                }
                NetHealth::StaticMismatch { expected, actual } => Check::fail(
                    label,
                    "static IP mismatch",
                    format!("expected={expected} actual={actual}"),
                ),
                NetHealth::Healthy { ip } if failures > 0 => Check::warn(
                    label,
                    format!("recovering (failures={failures}/{STRIKES})"),
                    format!("ip={ip}"),
                ),
                NetHealth::Healthy { ip } => {
                    Check::pass(label, "network healthy", format!("ip={ip}"))
                }
            });
        }
    }
    out
}
