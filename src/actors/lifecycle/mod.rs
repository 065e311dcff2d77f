//! The lifecycle manager (controller.md §7), standalone mode only. Units are registered and
//! unregistered by the pod workers (LC-1, facts in the pods fold); this actor watches them:
//! every `watchdogIntervalSeconds` one bulk container listing (LC-3 keepalive), then the due
//! probes run concurrently, each under its own timeout (§7.3). Restarts and failures are
//! pushed to the pods actor at once (L-11), which records them; `OnFailed` (LC-6) asks the
//! pods actor to recreate the owning pod as a queued per-pod job.

pub mod health;
pub mod probe;
mod restart;
mod unmanaged;
mod watchdog;

use super::device::DeviceLink;
use super::observations::Observations;
use super::pods::PodsActor;
use super::pods::state::PodsState;
use super::published::Published;
use crate::config::Config;
use actix::prelude::*;
use health::UnitRuntime;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// `lifecycle.*` with the §7 defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// LC-3: 0 → 5 s.
    pub interval: Duration,
    /// LC-6: 0 → 5.
    pub max_restarts: u32,
    /// LC-4: 0 → 10 s.
    pub cooldown: Duration,
    /// LC-6: stop, wait (2 s), start.
    pub pause: Duration,
    /// L-4: pods whose container is younger than this are not recreated yet.
    pub grace: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let lc = &config.lifecycle;
        let or = |v: u64, d: u64| Duration::from_secs(if v == 0 { d } else { v });
        let secs = |v: f64, d: f64, zero_ok: bool| {
            let ok = v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0));
            Duration::from_secs_f64(if ok { v } else { d })
        };
        Settings {
            interval: or(lc.watchdog_interval_seconds, 5),
            max_restarts: if lc.max_restarts == 0 {
                5
            } else {
                lc.max_restarts
            },
            cooldown: or(lc.restart_cooldown, 10),
            pause: secs(lc.restart_pause_seconds, 2.0, false),
            grace: secs(lc.recreate_grace_seconds, 300.0, true),
        }
    }
}

pub struct LifecycleActor {
    settings: Settings,
    device: DeviceLink,
    pods: Addr<PodsActor>,
    /// Runtime state by unit (device container) name.
    units: BTreeMap<String, UnitRuntime>,
    /// One watchdog pass at a time (L-3).
    ticking: bool,
    /// Pods with a `Recreate` in flight (LC-6 [D]: de-duplicate `OnFailed` per pod).
    recreating: BTreeSet<String>,
    /// LC-1: start-on-boot containers of no desired pod, kept running.
    unmanaged: BTreeMap<String, unmanaged::Unmanaged>,
    /// The pods fold as the pods actor publishes it (read, not copied, every tick).
    pods_view: Published<PodsState>,
    /// Where each tick's listing and readiness verdicts go (pod status, §3.6).
    observations: Observations,
    /// The pods fold of the last tick (readiness is recorded against it).
    last_pods: std::sync::Arc<PodsState>,
    /// Counts restarts (`/metrics`).
    metrics: Option<crate::metrics::Metrics>,
}

impl LifecycleActor {
    pub fn new(
        config: &Config,
        device: DeviceLink,
        pods: Addr<PodsActor>,
        pods_view: Published<PodsState>,
        observations: Observations,
    ) -> LifecycleActor {
        LifecycleActor {
            settings: Settings::from_config(config),
            device,
            pods,
            units: BTreeMap::new(),
            ticking: false,
            recreating: BTreeSet::new(),
            unmanaged: BTreeMap::new(),
            pods_view,
            observations,
            last_pods: Default::default(),
            metrics: None,
        }
    }

    /// Count every restart (LC-3 keepalive starts, LC-6 probe restarts) into `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> LifecycleActor {
        self.metrics = Some(metrics);
        self
    }
}

impl Actor for LifecycleActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.settings.interval, |act, ctx| act.tick(ctx));
    }
}

/// Readiness of a pod's units (§7.2 readiness): `None` when the watchdog knows no unit of
/// the pod (LC-2: unknown unit → not ready), else whether all are ready.
#[derive(Debug, Message)]
#[rtype(result = "Option<bool>")]
pub struct GetReadiness {
    pub pod: String,
}

impl Handler<GetReadiness> for LifecycleActor {
    type Result = Option<bool>;

    fn handle(&mut self, msg: GetReadiness, _: &mut Context<Self>) -> Option<bool> {
        let mut units = self.units.values().filter(|u| u.pod == msg.pod).peekable();
        units.peek()?;
        Some(units.all(|u| u.ready && u.startup_done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_settings_take_the_section_7_defaults() {
        let mut c = Config::default();
        c.lifecycle.watchdog_interval_seconds = 0;
        c.lifecycle.max_restarts = 0;
        c.lifecycle.restart_cooldown = 0;
        c.lifecycle.restart_pause_seconds = 0.0;
        c.lifecycle.recreate_grace_seconds = 0.0;
        let s = Settings::from_config(&c);
        assert_eq!(s.interval, Duration::from_secs(5), "LC-3");
        assert_eq!(s.max_restarts, 5, "LC-6");
        assert_eq!(s.cooldown, Duration::from_secs(10), "LC-4");
        assert_eq!(
            s.pause,
            Duration::from_secs(2),
            "LC-6 stop, wait 2 s, start"
        );
        assert_eq!(s.grace, Duration::ZERO, "L-4 grace may be turned off");
        c.lifecycle.recreate_grace_seconds = f64::NAN;
        assert_eq!(Settings::from_config(&c).grace, Duration::from_secs(300));
    }
}
