//! The orphan sweeps (§6.3 CC-R1…CC-R3) and their guards (§6.3 [F], L-1), decided without
//! I/O from one bulk read of the device, the pods and IPAM folds and the boot manifest. The
//! report shows the same decision, so what a pass would reap — or why it refuses — can be
//! read before it happens.
//!
//! - Only NAME-1-shaped containers and NAME-2-shaped veths and IPAM keys are ever candidates
//!   (`pod::names`); a name without `_`, with upper case or with one `_` never is.
//! - Whatever a desired, deleting or boot-manifest pod claims is never an orphan (`claims`).
//! - A veth a kept container uses is kept.
//! - Refused, in this order: the boot manifest did not load (the desired set is not known
//!   complete); nothing is desired while managed objects exist (`safeToReap`); a class would
//!   lose more than `maxReapFraction` of its managed objects (the cap).

use super::claims::{Claims, desired_keys};
use super::manifest::ManifestView;
use crate::actors::ipam::state::IpamState;
use crate::actors::pods::state::PodsState;
use crate::pod::names::{is_container_name_shape, is_veth_name_shape};
use crate::routeros::DeviceSnapshot;
use std::collections::BTreeSet;
use std::fmt;

/// What a sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// CC-R1: a device container (stopped, removed, its mount and env lists dropped).
    Container,
    /// CC-R2: a device veth (its static bridge port, the veth, its address: NET-2).
    Veth,
    /// CC-R3: an IPAM entry whose veth is not on the device.
    Allocation,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Container => "container",
            Resource::Veth => "veth",
            Resource::Allocation => "allocation",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Resource::Container => "containers",
            Resource::Veth => "veths",
            Resource::Allocation => "allocations",
        }
    }
}

/// One object a sweep would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub resource: Resource,
    pub name: String,
    /// The RouterOS `.id` of a container or veth; `<network>/<address>` of an allocation.
    pub id: String,
    /// The allocation's network (CC-R3).
    pub network: Option<String>,
    /// The rule and what was seen.
    pub reason: String,
}

/// Why a pass does not sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// L-1 (a): the boot manifest is configured and did not load.
    ManifestNotLoaded(String),
    /// L-1 (c) `safeToReap`: no pod is desired while `managed` managed objects exist.
    NothingDesired { managed: usize },
    /// L-1 (d): `reap` of `managed` objects of a class is more than the fraction allows.
    Cap {
        resource: Resource,
        reap: usize,
        managed: usize,
        fraction: f64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ManifestNotLoaded(e) => write!(
                f,
                "the boot manifest did not load, so the desired set is not known complete: {e}"
            ),
            Refusal::NothingDesired { managed } => write!(
                f,
                "no pod is desired while {managed} managed objects exist (safeToReap)"
            ),
            Refusal::Cap {
                resource,
                reap,
                managed,
                fraction,
            } => write!(
                f,
                "would reap {reap} of {managed} managed {}, more than {:.0}% (maxReapFraction)",
                resource.plural(),
                fraction * 100.0
            ),
        }
    }
}

/// The decision: the orphans (always computed, for the report) and whether the pass may
/// remove them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub orphans: Vec<Orphan>,
    pub refusal: Option<Refusal>,
}

impl Sweep {
    pub fn of(&self, resource: Resource) -> impl Iterator<Item = &Orphan> {
        self.orphans.iter().filter(move |o| o.resource == resource)
    }
}

/// What a sweep is decided from.
pub struct SweepFacts<'a> {
    pub device: &'a DeviceSnapshot,
    pub pods: &'a PodsState,
    pub manifest: &'a ManifestView,
    pub ipam: &'a IpamState,
    pub max_fraction: f64,
}

pub fn sweep(f: &SweepFacts) -> Sweep {
    let claims = Claims::of(f.pods, f.manifest.pods());
    let managed_containers = f
        .device
        .containers
        .iter()
        .filter(|c| is_container_name_shape(&c.name))
        .count();
    let managed_veths = f
        .device
        .veths
        .iter()
        .filter(|v| is_veth_name_shape(&v.name))
        .count();
    let managed_allocations = allocations(f.ipam)
        .filter(|(_, key, _)| is_veth_name_shape(key))
        .count();

    let mut orphans = Vec::new();
    let mut reaped: BTreeSet<&str> = BTreeSet::new();
    for c in &f.device.containers {
        if is_container_name_shape(&c.name) && !claims.container(&c.name) {
            reaped.insert(&c.name);
            orphans.push(Orphan {
                resource: Resource::Container,
                name: c.name.clone(),
                id: c.id.clone(),
                network: None,
                reason: format!(
                    "CC-R1: no desired or deleting pod claims it (status {})",
                    c.state.label()
                ),
            });
        }
    }
    // Veths a container that stays uses stay too.
    let used: BTreeSet<&str> = f
        .device
        .containers
        .iter()
        .filter(|c| !reaped.contains(c.name.as_str()))
        .flat_map(|c| c.interface.split(',').map(str::trim))
        .collect();
    for v in &f.device.veths {
        if is_veth_name_shape(&v.name) && !claims.veth(&v.name) && !used.contains(v.name.as_str()) {
            orphans.push(Orphan {
                resource: Resource::Veth,
                name: v.name.clone(),
                id: v.id.clone(),
                network: None,
                reason: format!(
                    "CC-R2: no desired or deleting pod claims it (address {:?})",
                    v.address
                ),
            });
        }
    }
    let on_device: BTreeSet<&str> = f.device.veths.iter().map(|v| v.name.as_str()).collect();
    for (network, key, ip) in allocations(f.ipam) {
        if is_veth_name_shape(key) && !claims.veth(key) && !on_device.contains(key) {
            orphans.push(Orphan {
                resource: Resource::Allocation,
                name: key.to_string(),
                id: format!("{network}/{ip}"),
                network: Some(network.to_string()),
                reason: format!("CC-R3: its veth is not on the device (address {ip})"),
            });
        }
    }

    let managed = managed_containers + managed_veths + managed_allocations;
    let refusal = if let ManifestView::Failed(e) = f.manifest {
        Some(Refusal::ManifestNotLoaded(e.clone()))
    } else if desired_keys(f.pods, f.manifest.pods()).is_empty() && managed > 0 {
        Some(Refusal::NothingDesired { managed })
    } else {
        [
            (Resource::Container, managed_containers),
            (Resource::Veth, managed_veths),
            (Resource::Allocation, managed_allocations),
        ]
        .into_iter()
        .map(|(resource, managed)| Refusal::Cap {
            resource,
            reap: orphans.iter().filter(|o| o.resource == resource).count(),
            managed,
            fraction: f.max_fraction,
        })
        .find(|cap| matches!(cap, Refusal::Cap { reap, managed, fraction, .. } if *reap as f64 > fraction * *managed as f64))
    };
    Sweep { orphans, refusal }
}

/// Every IPAM entry as (network, key, address).
fn allocations(ipam: &IpamState) -> impl Iterator<Item = (&str, &str, std::net::Ipv4Addr)> {
    ipam.pools.iter().flat_map(|(network, pool)| {
        pool.iter()
            .map(move |(key, a)| (network.as_str(), key.as_str(), a.ip))
    })
}

#[cfg(test)]
mod tests;
