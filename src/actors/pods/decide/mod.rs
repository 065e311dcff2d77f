//! What a pod's job does (§3.1 create, §3.2 teardown, §3.3 rebuild, §5 steps 3–4), decided
//! without I/O from the desired pod, its records, IPAM's addresses and the reconcile pass's
//! bulk observation. Two answers need one more fact from outside — the image's current
//! digest (§5 step 3c) and whether a recorded row is still on the device (§5 step 3b) — so
//! the decision asks for it ([`Step::CheckDigest`], [`Step::Confirm`]), the worker fetches
//! it and asks again. The worker (`worker/`) performs each step and records the outcomes.

#[cfg(test)]
mod tests;

use crate::actors::ipam::state::IpamState;
use crate::config::{Config, Network};
use crate::pod::spec::containers;
use crate::pod::{DesiredPod, DeviceContainer, Phase, names};
use crate::routeros::Observation;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The pod-wide facts a container's step is decided from.
pub struct PodFacts<'a> {
    /// The desired pod's revision (bumped by every update, §3.3).
    pub revision: u64,
    /// The network the pod joins now.
    pub network: &'a str,
    /// `vkube.io/static-ip`.
    pub static_ip: Option<Ipv4Addr>,
    /// `vkube.io/image-policy: auto` (§5 step 3c).
    pub auto_update: bool,
    /// IPAM's addresses (§5 step 4b compares them with the static IP).
    pub ipam: &'a IpamState,
    /// The reconcile pass's bulk read, if one was made (§5: observation is bulk).
    pub seen: Option<&'a Observation>,
}

/// One spec container as the decision sees it.
pub struct ContainerFacts<'a> {
    /// Its record; `None`: no attempt of mkube's touched the device under its names (every
    /// effect follows a recorded intent, and a teardown moves the root dir aside before the
    /// record goes).
    pub rec: Option<&'a DeviceContainer>,
    /// NAME-1.
    pub device_name: &'a str,
    /// NAME-2.
    pub veth: &'a str,
}

/// Facts the worker fetched because a step asked for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The image's digest now (the image cache's answer).
    pub digest: Option<String>,
    /// Whether the recorded row is on the device (one filtered read).
    pub present: Option<bool>,
}

/// The next thing to do for one spec container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Tear the recorded container down first (§3.2), then decide again without its record:
    /// the network or static IP moved (§3.3 [F], §5 step 4b), or a teardown was cut short.
    TearDown,
    /// Fetch the image's digest (`Fetched::digest`) and decide again (§5 step 3c).
    CheckDigest,
    /// Read whether the recorded row is still there (`Fetched::present`) and decide again
    /// (§5 step 3b).
    Confirm,
    /// Nothing to do for the container; its veth and bridge port are ensured.
    Keep,
    /// Create the container, the way [`How`] says.
    Create(How),
}

/// How a container is created (§3.1 steps 0 and 3–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Nothing of the name is expected on the device: writes only, each falling back to
    /// read-and-adopt on a duplicate refusal. `veth_absent`: the observation shows neither
    /// the veth nor a bridge port for it (add first, no read).
    Fresh { veth_absent: bool },
    /// Something of the name may be there (a recorded intent without its outcome, a row
    /// the observation shows, a row that vanished or never started): read, adopt a row that
    /// is what the plan would create, replace anything else.
    ReadAndAdopt,
    /// §3.3: an update or a moved image digest; the row is replaced, never adopted (veth
    /// and address are kept).
    Rebuild,
}

impl How {
    pub fn veth_absent(self) -> bool {
        matches!(self, How::Fresh { veth_absent: true })
    }
}

/// The next step for container `c` of a pod (§3.1, §3.3, §5 steps 3, 3b, 3c, 4b).
pub fn step(pod: &PodFacts, c: &ContainerFacts, fetched: &Fetched) -> Step {
    let Some(rec) = c.rec else {
        return Step::Create(unrecorded(pod.seen, c));
    };
    let moved = (!rec.network.is_empty() && rec.network != pod.network)
        || pod
            .static_ip
            .is_some_and(|want| rec.off_static_ip(want, pod.ipam.address(&rec.network, &rec.veth)));
    let phase = rec.phase();
    if moved || phase == Phase::Removing {
        return Step::TearDown;
    }
    if !phase.is_built() {
        // An intent without its outcome (a crash, or L-7's cleanup cut short).
        return Step::Create(How::ReadAndAdopt);
    }
    if rec.revision != pod.revision {
        return Step::Create(How::Rebuild);
    }
    if pod.auto_update && !rec.image_digest.is_empty() {
        match &fetched.digest {
            None => return Step::CheckDigest,
            Some(d) if *d != rec.image_digest => return Step::Create(How::Rebuild),
            Some(_) => {}
        }
    }
    match fetched.present {
        None => Step::Confirm,
        Some(true) if phase == Phase::Started => Step::Keep,
        // Vanished (§5 step 3b), or created but never recorded started (a crash between the
        // two): the create path adopts the row and records the start.
        Some(_) => Step::Create(How::ReadAndAdopt),
    }
}

/// A container without a record: fresh unless the observation shows a row of its name.
fn unrecorded(seen: Option<&Observation>, c: &ContainerFacts) -> How {
    match seen {
        Some(o) if o.containers.contains(c.device_name) => How::ReadAndAdopt,
        Some(o) => How::Fresh {
            veth_absent: !o.veths.contains_key(c.veth) && !o.ports.contains(c.veth),
        },
        None => How::Fresh { veth_absent: false },
    }
}

/// NAME-2 [D]: another desired pod whose veth names collide with `key`'s and that keeps
/// them — the one already on the device, else the smaller key. Two pods on one veth would
/// take each other's address, so the one that yields is not created.
pub fn veth_clash(pods: &BTreeMap<String, DesiredPod>, key: &str) -> Option<String> {
    let mine = pods.get(key)?;
    let my_veths = names::veth_names(&mine.pod);
    pods.iter()
        .filter(|(k, _)| k.as_str() != key)
        .filter(|(_, o)| {
            names::veth_names(&o.pod)
                .iter()
                .any(|v| my_veths.contains(v))
        })
        .find(|(k, o)| {
            let (theirs, ours) = (!o.containers.is_empty(), !mine.containers.is_empty());
            (theirs && !ours) || (theirs == ours && k.as_str() < key)
        })
        .map(|(k, _)| k.clone())
}

/// Recorded containers an update dropped from the spec (torn down first).
pub fn dropped(desired: &DesiredPod) -> Vec<(&str, &DeviceContainer)> {
    let spec = containers(&desired.pod);
    desired
        .containers
        .iter()
        .filter(|(name, _)| !spec.iter().any(|c| &c.name == *name))
        .map(|(name, rec)| (name.as_str(), rec))
        .collect()
}

/// Whether the intent must be recorded before the device is touched: the record does not
/// intend it already (a retried create with the same intent appends nothing).
pub fn must_record_intent(rec: Option<&DeviceContainer>, intent: &DeviceContainer) -> bool {
    !rec.is_some_and(|r| r.intends(intent))
}

/// The veth and address a kept container's record names, to ensure them (§5 step 3b: the
/// container is there; its veth or bridge port may not be).
pub fn recorded_veth(rec: &DeviceContainer) -> Option<(&str, Ipv4Addr)> {
    let ip = rec.ip.parse().ok()?;
    (!rec.veth.is_empty()).then_some((rec.veth.as_str(), ip))
}

/// Where a container's address comes from (NET-1, address part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// Ask IPAM for this address (`None`: the next free one).
    Ask(Option<Ipv4Addr>),
    /// Read the device's veth of the name first: adoption keeps a running container's IP.
    ReadVeth,
}

/// The static IP; else what this container held on this network; else what a same-named
/// device veth carries — from the observation when no record claims the name, else read.
pub fn address(
    static_ip: Option<Ipv4Addr>,
    rec: Option<&DeviceContainer>,
    net: &Network,
    seen: Option<&Observation>,
    veth: &str,
) -> Address {
    if let Some(ip) = static_ip {
        return Address::Ask(Some(ip));
    }
    let held = rec
        .filter(|r| r.network == net.name)
        .and_then(|r| r.ip.parse().ok());
    if let Some(ip) = held {
        return Address::Ask(Some(ip));
    }
    match seen {
        Some(o) if rec.is_none() => {
            Address::Ask(device_address(o.veths.get(veth).map(String::as_str), net))
        }
        _ => Address::ReadVeth,
    }
}

/// A device veth's `ip/prefix`, when it is an address of `net`'s subnet.
pub fn device_address(cidr: Option<&str>, net: &Network) -> Option<Ipv4Addr> {
    cidr.and_then(|c| c.split('/').next()?.parse::<Ipv4Addr>().ok())
        .filter(|ip| net.subnet().contains(ip))
}

/// What removing one recorded container takes (§3.2; only what the log says mkube made, L-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teardown {
    /// `ContainerRemoving` is not recorded yet.
    pub record_intent: bool,
    /// Its lifecycle unit is registered.
    pub unregister_unit: bool,
    pub veth: String,
    /// Where its address is released; `None` when no network is known.
    pub network: Option<String>,
    /// Moved aside (O(1), never a recursive delete, L-13).
    pub root_dir: String,
}

/// The teardown of container `container` of pod `ns/name`. Records from before intents
/// existed fall back to the naming rule and the pod's network.
pub fn teardown(
    ns: &str,
    name: &str,
    pod: &Pod,
    container: &str,
    rec: &DeviceContainer,
    units: &[String],
    config: &Config,
) -> Teardown {
    let veth = if rec.veth.is_empty() {
        let index = containers(pod)
            .iter()
            .position(|c| c.name == container)
            .unwrap_or(0);
        names::veth_name(ns, name, index)
    } else {
        rec.veth.clone()
    };
    let network = if rec.network.is_empty() {
        crate::pod::network_of(pod, &config.networks)
            .ok()
            .map(|n| n.name.clone())
    } else {
        Some(rec.network.clone())
    };
    Teardown {
        record_intent: rec.phase() != Phase::Removing,
        unregister_unit: units.contains(&rec.device_name),
        veth,
        network,
        root_dir: names::root_dir(&config.storage.base_path, &rec.device_name),
    }
}

/// After a deleted pod's recorded containers are gone: the addresses its spec containers'
/// veths may still hold (an allocation whose intent was lost), and their network.
pub fn leftover_addresses(
    ns: &str,
    name: &str,
    pod: &Pod,
    networks: &[Network],
) -> Option<(String, Vec<String>)> {
    let net = crate::pod::network_of(pod, networks).ok()?;
    let veths = (0..containers(pod).len())
        .map(|i| names::veth_name(ns, name, i))
        .collect();
    Some((net.name.clone(), veths))
}

/// §3.1 step 2 / §3.5 force-release: the other containers holding the veth a container is
/// about to be created on. Those no pod's record claims and that have a NAME-1 shape (`_`)
/// are removed; any other holder — a container of another pod, or one without `_` that mkube
/// never manages (the controller's own, a user's) — makes the create fail with its name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Holders {
    pub release: Vec<String>,
    pub refuse: Vec<String>,
}

pub fn holders(own: &str, holding: &[String], claimed: impl Fn(&str) -> bool) -> Holders {
    let mut out = Holders::default();
    for name in holding.iter().filter(|n| n.as_str() != own) {
        if !claimed(name) && name.contains('_') {
            out.release.push(name.clone());
        } else {
            out.refuse.push(name.clone());
        }
    }
    out
}
