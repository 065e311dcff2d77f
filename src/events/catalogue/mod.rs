//! The event catalogue: every fact mkube can record, grouped by area. Events are facts in the
//! past tense; each area's enum is folded by exactly one actor's state.
//!
//! On the wire an event is an envelope `kind` such as `ipam.IpAllocated` plus a CBOR map payload
//! (see `envelope.rs`); the area prefix picks the enum, the rest picks the variant.

mod configmaps;
mod consistency;
mod dns;
mod images;
mod ipam;
mod lifecycle;
mod pods;
mod veths;

pub use configmaps::ConfigMapsEvent;
pub use consistency::ConsistencyEvent;
pub use dns::DnsEvent;
pub use images::{ImagesEvent, repository_of};
pub use ipam::IpamEvent;
pub use lifecycle::LifecycleEvent;
pub use pods::{PodSource, PodsEvent};
pub use veths::VethsEvent;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The areas of the catalogue; each is the second token after `mkube.<node>` in a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    Pods,
    Lifecycle,
    Ipam,
    Veths,
    Dns,
    Images,
    Consistency,
    ConfigMaps,
}

impl Area {
    pub const ALL: [Area; 8] = [
        Area::Pods,
        Area::Lifecycle,
        Area::Ipam,
        Area::Veths,
        Area::Dns,
        Area::Images,
        Area::Consistency,
        Area::ConfigMaps,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Pods => "pods",
            Area::Lifecycle => "lifecycle",
            Area::Ipam => "ipam",
            Area::Veths => "veths",
            Area::Dns => "dns",
            Area::Images => "images",
            Area::Consistency => "consistency",
            Area::ConfigMaps => "configmaps",
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Area {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Area::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown area {s:?} (one of pods, lifecycle, ipam, veths, dns, images, consistency, configmaps)"))
    }
}

/// Any event of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Pods(PodsEvent),
    Lifecycle(LifecycleEvent),
    Ipam(IpamEvent),
    Veths(VethsEvent),
    Dns(DnsEvent),
    Images(ImagesEvent),
    Consistency(ConsistencyEvent),
    ConfigMaps(ConfigMapsEvent),
}

impl Event {
    pub fn area(&self) -> Area {
        match self {
            Event::Pods(_) => Area::Pods,
            Event::Lifecycle(_) => Area::Lifecycle,
            Event::Ipam(_) => Area::Ipam,
            Event::Veths(_) => Area::Veths,
            Event::Dns(_) => Area::Dns,
            Event::Images(_) => Area::Images,
            Event::Consistency(_) => Area::Consistency,
            Event::ConfigMaps(_) => Area::ConfigMaps,
        }
    }

    /// The subject key tokens after the area, unescaped (`["default", "web"]` for a pod).
    pub fn key(&self) -> Vec<String> {
        match self {
            Event::Pods(e) => e.key(),
            Event::Lifecycle(e) => e.key(),
            Event::Ipam(e) => e.key(),
            Event::Veths(e) => e.key(),
            Event::Dns(e) => e.key(),
            Event::Images(e) => e.key(),
            Event::Consistency(e) => e.key(),
            Event::ConfigMaps(e) => e.key(),
        }
    }
}

macro_rules! impl_from_area {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Event {
            fn from(e: $ty) -> Self { Event::$variant(e) }
        })*
    };
}

impl_from_area!(
    Pods(PodsEvent),
    Lifecycle(LifecycleEvent),
    Ipam(IpamEvent),
    Veths(VethsEvent),
    Dns(DnsEvent),
    Images(ImagesEvent),
    Consistency(ConsistencyEvent),
    ConfigMaps(ConfigMapsEvent),
);

/// IPv4 addresses as dotted text in every encoding, so non-Rust subscribers read them plainly.
mod ip_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::net::Ipv4Addr;

    pub fn serialize<S: Serializer>(ip: &Ipv4Addr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ip)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Ipv4Addr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
