//! The consistency report (§6.1, §6.2 CC-1…CC-5), a pure function of one bulk read of the
//! device, the published pods and IPAM folds, the boot manifest, one list per DNS zone and
//! the checker's own counters. Every list is sorted by `name`, empty lists are `[]`, and
//! `network` is left out when it has no items.
//!
//! Beside §6.2's items the `containers` list shows what the repair pass would do with what it
//! found: `orphan/<container|veth>/<name>` (warn) for each orphan of mkube's naming, and
//! `repair/guard` (fail) when the pass refuses (L-1) — `ipam` holds the guard item when the
//! allocations' cap refuses.

mod device;
mod dns;
mod manifest;
#[cfg(test)]
mod tests;

use super::manifest::ManifestView;
use super::state::ConsistencyState;
use super::sweep::{Refusal, Resource, SweepFacts, sweep};
use crate::actors::checks::{Check, Summary};
use crate::actors::dns::ZoneListing;
use crate::actors::ipam::state::IpamState;
use crate::actors::pods::state::PodsState;
use crate::config::Config;
use crate::routeros::DeviceSnapshot;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// What the repair pass is configured to do (`consistency.repair`, `dryRun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    DryRun,
    On,
}

/// Everything a report is computed from.
pub struct ReportFacts<'a> {
    pub config: &'a Config,
    pub manifest: &'a ManifestView,
    pub pods: &'a PodsState,
    pub ipam: &'a IpamState,
    /// The bulk read, or why it failed.
    pub device: Result<&'a DeviceSnapshot, &'a str>,
    /// One listing per network with a DNS endpoint and a zone, in config order.
    pub zones: &'a [(String, ZoneListing)],
    pub counters: &'a ConsistencyState,
    pub mode: Mode,
    pub nats_connected: bool,
    pub max_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// When the computation began (RFC 3339, UTC).
    pub timestamp: String,
    pub summary: Summary,
    pub checks: Checks,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checks {
    pub containers: Vec<Check>,
    pub dns: Vec<Check>,
    pub manifest: Vec<Check>,
    pub ipam: Vec<Check>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<Check>,
}

/// A report with its JSON rendered once, for every request that is served it.
#[derive(Debug, Clone)]
pub struct Served {
    pub report: Report,
    pub json: bytes::Bytes,
}

impl Served {
    pub fn new(report: Report) -> Served {
        let json = serde_json::to_vec(&report).unwrap_or_default().into();
        Served { report, json }
    }
}

impl Checks {
    fn all(&self) -> impl Iterator<Item = &Check> {
        self.containers
            .iter()
            .chain(&self.dns)
            .chain(&self.manifest)
            .chain(&self.ipam)
            .chain(&self.network)
    }
}

pub fn build(f: &ReportFacts, at: DateTime<Utc>) -> Report {
    let mut checks = Checks {
        containers: device::containers(f),
        dns: dns::zones(f),
        manifest: manifest::manifest(f),
        ipam: device::ipam(f),
        network: device::network(f),
    };
    repair_items(f, &mut checks);
    for list in [
        &mut checks.containers,
        &mut checks.dns,
        &mut checks.manifest,
        &mut checks.ipam,
        &mut checks.network,
    ] {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Report {
        timestamp: at.to_rfc3339_opts(SecondsFormat::Millis, true),
        summary: Summary::of(checks.all()),
        checks,
    }
}

/// What the repair pass would do with the orphans of this read, and why it would not.
fn repair_items(f: &ReportFacts, checks: &mut Checks) {
    if f.mode != Mode::Off && !f.nats_connected {
        checks.containers.push(Check::fail(
            "repair/nats",
            "NATS disconnected: no repair pass runs until it is back",
            "",
        ));
    }
    let Ok(device) = f.device else {
        return;
    };
    let plan = sweep(&SweepFacts {
        device,
        pods: f.pods,
        manifest: f.manifest,
        ipam: f.ipam,
        max_fraction: f.max_fraction,
    });
    let fate = match (&plan.refusal, f.mode) {
        (_, Mode::Off) => "repair off: not reaped",
        (_, Mode::DryRun) => "dry run: not reaped",
        (Some(_), Mode::On) => "not reaped while the repair pass refuses (repair/guard)",
        (None, Mode::On) => "reaped by the repair pass",
    };
    for o in plan
        .orphans
        .iter()
        .filter(|o| o.resource != Resource::Allocation)
    {
        checks.containers.push(Check::warn(
            format!("orphan/{}/{}", o.resource.as_str(), o.name),
            format!("orphan {}: no pod claims it ({fate})", o.resource.as_str()),
            format!("id={} {}", o.id, o.reason),
        ));
    }
    if let (Some(refusal), false) = (&plan.refusal, f.mode == Mode::Off) {
        let item = Check::fail("repair/guard", "repair pass refused", refusal.to_string());
        match refusal {
            Refusal::Cap {
                resource: Resource::Allocation,
                ..
            } => checks.ipam.push(item),
            _ => checks.containers.push(item),
        }
    }
}
