//! Per-unit runtime state of the watchdog (in memory; restarts and failures themselves are
//! facts in the pods fold): probe counters (LC-5, liveness, readiness), last restart (LC-4)
//! and when the current device container was first seen (L-4 grace).

use super::probe::{ProbeSpec, Probes};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    pub last_run: Option<Instant>,
    pub successes: u32,
    pub failures: u32,
}

/// What one probe result means for the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// Startup or liveness threshold crossed: restart (LC-6).
    Restart(String),
    /// A liveness success after the unit was unhealthy (L-11 `recovered`).
    Recovered,
}

#[derive(Debug, Clone)]
pub struct UnitRuntime {
    pub pod: String,
    pub device_id: String,
    /// The current device container was first seen (L-4).
    pub created: Instant,
    /// Probing (and `initialDelaySeconds`) counts from here: first seen or last restart.
    pub since: Instant,
    pub last_restart: Option<Instant>,
    /// Restart count (the fold's, plus this process's restarts not yet folded back).
    pub restarts: u32,
    pub restarting: bool,
    /// The last listing showed the container stopped (L-11 `stopped` once per stop).
    pub stopped: bool,
    pub startup_done: bool,
    pub healthy: bool,
    /// LC-2: ready on register.
    pub ready: bool,
    pub probes: Probes,
    pub startup: ProbeState,
    pub liveness: ProbeState,
    pub readiness: ProbeState,
}

impl UnitRuntime {
    pub fn new(pod: String, device_id: String, probes: Probes, now: Instant) -> UnitRuntime {
        UnitRuntime {
            pod,
            device_id,
            created: now,
            since: now,
            last_restart: None,
            restarts: 0,
            restarting: false,
            stopped: false,
            startup_done: probes.startup.is_none(),
            healthy: true,
            ready: true,
            probes,
            startup: ProbeState::default(),
            liveness: ProbeState::default(),
            readiness: ProbeState::default(),
        }
    }

    /// LC-4: a restart happened less than `cooldown` ago.
    pub fn cooling(&self, cooldown: Duration, now: Instant) -> bool {
        self.last_restart
            .is_some_and(|t| now.saturating_duration_since(t) < cooldown)
    }

    /// After a restart: probe state starts over (LC-5 "reset the startup state").
    pub fn restarted(&mut self, now: Instant) {
        self.last_restart = Some(now);
        self.since = now;
        self.restarting = false;
        self.startup_done = self.probes.startup.is_none();
        self.startup = ProbeState::default();
        self.liveness = ProbeState::default();
        self.readiness = ProbeState::default();
    }

    fn spec(&self, kind: Kind) -> Option<&ProbeSpec> {
        match kind {
            Kind::Startup => self.probes.startup.as_ref(),
            Kind::Liveness => self.probes.liveness.as_ref(),
            Kind::Readiness => self.probes.readiness.as_ref(),
        }
    }

    fn state(&mut self, kind: Kind) -> &mut ProbeState {
        match kind {
            Kind::Startup => &mut self.startup,
            Kind::Liveness => &mut self.liveness,
            Kind::Readiness => &mut self.readiness,
        }
    }

    /// Probes due now: the startup probe alone while startup is incomplete (LC-5), else
    /// liveness and readiness; each after `initialDelaySeconds`, then every `period`.
    pub fn due(&self, now: Instant) -> Vec<(Kind, ProbeSpec)> {
        let kinds: &[Kind] = if self.startup_done {
            &[Kind::Liveness, Kind::Readiness]
        } else {
            &[Kind::Startup]
        };
        let mut out = Vec::new();
        for kind in kinds {
            let Some(spec) = self.spec(*kind) else {
                continue;
            };
            let st = match kind {
                Kind::Startup => &self.startup,
                Kind::Liveness => &self.liveness,
                Kind::Readiness => &self.readiness,
            };
            let delayed = now.saturating_duration_since(self.since) >= spec.initial_delay;
            let period = st
                .last_run
                .is_none_or(|t| now.saturating_duration_since(t) >= spec.period);
            if delayed && period {
                out.push((*kind, spec.clone()));
            }
        }
        out
    }

    /// Folds one probe result in (§7.2).
    pub fn record(&mut self, kind: Kind, ok: bool, now: Instant) -> Verdict {
        let Some(spec) = self.spec(kind).cloned() else {
            return Verdict::Nothing;
        };
        let st = self.state(kind);
        st.last_run = Some(now);
        if ok {
            st.successes = st.successes.saturating_add(1);
            st.failures = 0;
        } else {
            st.failures = st.failures.saturating_add(1);
            st.successes = 0;
        }
        let (successes, failures) = (st.successes, st.failures);
        match kind {
            Kind::Startup if successes >= spec.success_threshold => {
                self.startup_done = true;
                Verdict::Nothing
            }
            Kind::Startup if failures >= spec.failure_threshold => {
                self.startup = ProbeState::default();
                Verdict::Restart(format!("startup probe failed {failures} times"))
            }
            Kind::Liveness if failures >= spec.failure_threshold => {
                self.healthy = false;
                self.liveness = ProbeState::default();
                Verdict::Restart(format!("liveness probe failed {failures} times"))
            }
            Kind::Liveness if ok && !self.healthy => {
                self.healthy = true;
                Verdict::Recovered
            }
            Kind::Readiness if failures >= spec.failure_threshold => {
                self.ready = false;
                Verdict::Nothing
            }
            Kind::Readiness if successes >= spec.success_threshold => {
                self.ready = true;
                Verdict::Nothing
            }
            _ => Verdict::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::Action;
    use super::*;

    fn spec(fail: u32) -> ProbeSpec {
        ProbeSpec {
            action: Action::Tcp { port: 1 },
            initial_delay: Duration::from_secs(5),
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failure_threshold: fail,
            success_threshold: 1,
        }
    }

    #[test]
    fn liveness_threshold_restarts_and_resets() {
        let now = Instant::now();
        let probes = Probes {
            liveness: Some(spec(2)),
            ..Default::default()
        };
        let mut u = UnitRuntime::new("d/p".into(), "*1".into(), probes, now);
        assert!(u.due(now).is_empty(), "initial delay");
        let later = now + Duration::from_secs(5);
        assert_eq!(u.due(later).len(), 1);
        assert_eq!(u.record(Kind::Liveness, false, later), Verdict::Nothing);
        assert!(u.due(later).is_empty(), "period");
        let v = u.record(Kind::Liveness, false, later + Duration::from_secs(1));
        assert!(matches!(v, Verdict::Restart(_)));
        assert_eq!(u.liveness.failures, 0);
        let v = u.record(Kind::Liveness, true, later + Duration::from_secs(2));
        assert_eq!(v, Verdict::Recovered);
    }

    #[test]
    fn startup_gates_liveness() {
        let now = Instant::now();
        let mut s = spec(1);
        s.initial_delay = Duration::ZERO;
        let probes = Probes {
            startup: Some(s.clone()),
            liveness: Some(s),
            readiness: None,
        };
        let mut u = UnitRuntime::new("d/p".into(), "*1".into(), probes, now);
        assert_eq!(u.due(now)[0].0, Kind::Startup);
        assert_eq!(u.due(now).len(), 1);
        u.record(Kind::Startup, true, now);
        assert_eq!(u.due(now)[0].0, Kind::Liveness);
    }
}
