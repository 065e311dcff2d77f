//! The seeded fault schedule and how each fault is injected and ended.
//!
//! The schedule is a list of (start, kind, duration) drawn from a StdRng seeded with
//! `--seed`, arriving at `--faults-per-minute` on average. Faults overlap when they hit
//! different parts of the site (the device errs while NATS is down); two faults of one part
//! never do (a second kill of a process that is down means nothing), so a fault whose part is
//! busy starts a little after the part is back.

use super::http::control;
use super::processes::{Program, Site};
use anyhow::Result;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// kill -9 of mkube; started again when the fault ends.
    KillMkube,
    /// nats-server killed, started again (same store) when the fault ends.
    NatsDown,
    /// nats-server killed, then mkube killed and started while NATS is still down (it must
    /// wait for the log before it does anything); NATS started again when the fault ends.
    MkubeRestartWithoutNats,
    /// `/_sim/faults`: this kind of failure on a share of the device's REST calls.
    DeviceFaults { kind: &'static str, rate: f64 },
    /// `/_sim/reboot`: the device is down this long, then boots with its saved config.
    DeviceReboot,
    /// The microdns double accepts requests and never answers.
    DnsBlackhole,
    /// The microdns double restarts with an empty database (instant).
    DnsWipe,
    /// mkube-registry stopped; started again when the fault ends.
    RegistryDown,
}

impl FaultKind {
    pub fn describe(&self) -> String {
        match self {
            FaultKind::KillMkube => "kill -9 mkube".into(),
            FaultKind::NatsDown => "NATS down".into(),
            FaultKind::MkubeRestartWithoutNats => "NATS down, mkube restarted meanwhile".into(),
            FaultKind::DeviceFaults { kind, rate } => {
                format!("device {kind} on {:.0}% of calls", rate * 100.0)
            }
            FaultKind::DeviceReboot => "device reboot".into(),
            FaultKind::DnsBlackhole => "microdns blackholed".into(),
            FaultKind::DnsWipe => "microdns restarted empty".into(),
            FaultKind::RegistryDown => "registry down".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Seconds after the start of the run.
    pub at: f64,
    pub kind: FaultKind,
    /// Seconds the fault lasts.
    pub lasts: f64,
}

/// The parts of the site a fault takes down; faults of disjoint parts may overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Mkube,
    Nats,
    Device,
    Dns,
    Registry,
}

impl FaultKind {
    fn parts(&self) -> &'static [Part] {
        match self {
            FaultKind::KillMkube => &[Part::Mkube],
            FaultKind::NatsDown => &[Part::Nats],
            FaultKind::MkubeRestartWithoutNats => &[Part::Mkube, Part::Nats],
            FaultKind::DeviceFaults { .. } | FaultKind::DeviceReboot => &[Part::Device],
            FaultKind::DnsBlackhole | FaultKind::DnsWipe => &[Part::Dns],
            FaultKind::RegistryDown => &[Part::Registry],
        }
    }
}

/// A part is left alone this long after its fault ends, so it is seen working in between.
const PART_REST: f64 = 5.0;

/// What the schedule draws from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub seed: u64,
    /// Seconds of the fault phase.
    pub phase: f64,
    pub per_minute: f64,
    /// No kill of mkube: one process lives through every fault (its RSS and descriptors then
    /// say whether it leaks).
    pub spare_mkube: bool,
}

/// The schedule for the plan's fault phase.
pub fn schedule(plan: Plan) -> Vec<Fault> {
    let Plan {
        seed,
        phase,
        per_minute,
        spare_mkube,
    } = plan;
    let mut rng = StdRng::seed_from_u64(seed);
    let mean_gap = 60.0 / per_minute.clamp(0.1, 60.0);
    let mut free_at: Vec<(Part, f64)> = Vec::new();
    let mut out = Vec::new();
    // A quiet start, so the first pods exist before anything breaks.
    let mut arrival = rng.random_range(8.0..15.0);
    while arrival < phase {
        let mut kind = pick_kind(&mut rng);
        while spare_mkube && kind.parts().contains(&Part::Mkube) {
            kind = pick_kind(&mut rng);
        }
        let lasts = duration_of(kind, &mut rng);
        let parts = kind.parts();
        let free = free_at
            .iter()
            .filter(|(p, _)| parts.contains(p))
            .map(|(_, t)| *t)
            .fold(0.0, f64::max);
        let at = arrival.max(free);
        if at + lasts <= phase {
            out.push(Fault { at, kind, lasts });
            free_at.retain(|(p, _)| !parts.contains(p));
            free_at.extend(parts.iter().map(|p| (*p, at + lasts + PART_REST)));
        }
        arrival += rng.random_range(0.5 * mean_gap..1.5 * mean_gap);
    }
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

fn pick_kind(rng: &mut StdRng) -> FaultKind {
    match rng.random_range(0..9) {
        0 | 1 => FaultKind::KillMkube,
        2 => FaultKind::NatsDown,
        3 => {
            let kind = ["error", "eof", "hang"][rng.random_range(0..3)];
            FaultKind::DeviceFaults {
                kind,
                rate: rng.random_range(0.1..0.3),
            }
        }
        4 => FaultKind::DeviceReboot,
        5 => FaultKind::DnsBlackhole,
        6 => FaultKind::DnsWipe,
        7 => FaultKind::MkubeRestartWithoutNats,
        _ => FaultKind::RegistryDown,
    }
}

fn duration_of(kind: FaultKind, rng: &mut StdRng) -> f64 {
    match kind {
        FaultKind::KillMkube => rng.random_range(1.0..4.0),
        FaultKind::NatsDown | FaultKind::MkubeRestartWithoutNats => rng.random_range(10.0..30.0),
        FaultKind::DeviceFaults { .. } => rng.random_range(10.0..25.0),
        FaultKind::DeviceReboot => rng.random_range(3.0..10.0),
        FaultKind::DnsBlackhole => rng.random_range(10.0..25.0),
        FaultKind::DnsWipe => 0.0,
        FaultKind::RegistryDown => rng.random_range(10.0..25.0),
    }
}

/// Puts the fault in place.
pub async fn inject(site: &mut Site, http: &reqwest::Client, fault: &Fault) -> Result<()> {
    match fault.kind {
        FaultKind::KillMkube => site.kill(Program::Mkube).await,
        FaultKind::NatsDown => site.kill(Program::Nats).await,
        FaultKind::MkubeRestartWithoutNats => {
            site.kill(Program::Nats).await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            site.kill(Program::Mkube).await;
            site.start(Program::Mkube).await?;
        }
        FaultKind::RegistryDown => site.kill(Program::Registry).await,
        FaultKind::DeviceFaults { kind, rate } => {
            let mut rule = json!({"path": "/rest", "kind": kind, "rate": rate});
            if kind == "error" {
                rule["status"] = json!(500);
                rule["detail"] = json!("soak: injected error");
            }
            let url = format!("{}/_sim/faults", site.device());
            control(http, Method::POST, &url, Some(rule)).await?;
        }
        FaultKind::DeviceReboot => {
            let url = format!("{}/_sim/reboot", site.device());
            let body = json!({"downSeconds": fault.lasts});
            control(http, Method::POST, &url, Some(body)).await?;
        }
        FaultKind::DnsBlackhole => {
            let url = format!("{}/_control/faults", site.dns_control());
            control(http, Method::POST, &url, Some(json!({"kind": "blackhole"}))).await?;
        }
        FaultKind::DnsWipe => {
            let url = format!("{}/_control/wipe", site.dns_control());
            control(http, Method::POST, &url, None).await?;
        }
    }
    Ok(())
}

/// Ends the fault: what was stopped is started again, rules are cleared.
pub async fn clear(site: &mut Site, http: &reqwest::Client, fault: &Fault) -> Result<()> {
    match fault.kind {
        FaultKind::KillMkube => site.start(Program::Mkube).await,
        FaultKind::NatsDown | FaultKind::MkubeRestartWithoutNats => site.start(Program::Nats).await,
        FaultKind::RegistryDown => site.start(Program::Registry).await,
        FaultKind::DeviceFaults { .. } => clear_device_faults(site, http).await,
        // The device comes back by itself after downSeconds; the wipe is instant.
        FaultKind::DeviceReboot | FaultKind::DnsWipe => Ok(()),
        FaultKind::DnsBlackhole => {
            let url = format!("{}/_control/faults", site.dns_control());
            control(http, Method::DELETE, &url, None).await
        }
    }
}

pub async fn clear_device_faults(site: &Site, http: &reqwest::Client) -> Result<()> {
    let url = format!("{}/_sim/faults", site.device());
    control(http, Method::DELETE, &url, None).await
}

/// Whatever the schedule left behind is ended: every program running, no fault rules.
pub async fn clear_all(site: &mut Site, http: &reqwest::Client) -> Result<()> {
    for p in [Program::Nats, Program::Registry, Program::Mkube] {
        if !site.is_running(p) {
            site.start(p).await?;
        }
    }
    clear_device_faults(site, http).await?;
    let url = format!("{}/_control/faults", site.dns_control());
    control(http, Method::DELETE, &url, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule_inside_the_phase() {
        let plan = |seed| Plan {
            seed,
            phase: 120.0,
            per_minute: 3.0,
            spare_mkube: false,
        };
        let a = schedule(plan(7));
        assert_eq!(a, schedule(plan(7)));
        assert_ne!(a, schedule(plan(8)));
        assert!(!a.is_empty());
        assert!(a.iter().all(|f| f.at + f.lasts <= 120.0));
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at), "in order");
    }

    #[test]
    fn faults_overlap_only_on_different_parts_of_the_site() {
        let a = schedule(Plan {
            seed: 11,
            phase: 1800.0,
            per_minute: 7.5,
            spare_mkube: false,
        });
        assert!(a.len() >= 200, "{} faults in 30 minutes", a.len());
        let mut overlapping = 0;
        for (i, f) in a.iter().enumerate() {
            for g in &a[i + 1..] {
                if g.at >= f.at + f.lasts {
                    continue;
                }
                overlapping += 1;
                let shared = f.kind.parts().iter().any(|p| g.kind.parts().contains(p));
                assert!(!shared, "{f:?} and {g:?} hit the same part");
            }
        }
        assert!(overlapping > 20, "{overlapping} overlaps");
        let spared = schedule(Plan {
            seed: 11,
            phase: 600.0,
            per_minute: 5.0,
            spare_mkube: true,
        });
        assert!(spared.len() > 20);
        assert!(
            spared
                .iter()
                .all(|f| !f.kind.parts().contains(&Part::Mkube))
        );
    }
}
