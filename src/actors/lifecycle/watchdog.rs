//! One watchdog pass (§7.2): gather (pods fold, runnable pods, one device listing), plan in
//! the actor, run keepalive starts and due probes concurrently, fold the results back.

use super::LifecycleActor;
use super::health::{Kind, UnitRuntime, Verdict};
use super::probe::{ProbeSpec, Probes};
use crate::actors::observations::Observations;
use crate::actors::pods::state::PodsState;
use crate::actors::pods::units::{RecreateFailedUnit, Recreated, Transition, UnitTransition};
use crate::actors::pods::{PodsActor, Runnable};
use crate::actors::published::Published;
use crate::routeros::{Container, RosClient};
use actix::prelude::*;
use std::collections::BTreeSet;
use std::time::Instant;

struct Gathered {
    state: std::sync::Arc<PodsState>,
    runnable: BTreeSet<String>,
    ros: RosClient,
    rows: Vec<Container>,
}

/// A keepalive start (LC-3): unit, device id, the restart count it makes.
struct Start {
    unit: String,
    id: String,
    restarts: u32,
}

#[derive(Default)]
struct Work {
    ros: Option<RosClient>,
    starts: Vec<Start>,
    probes: Vec<(String, Kind, ProbeSpec, String)>,
    /// LC-1 unmanaged units to start: (container name, device id).
    unmanaged: Vec<(String, String)>,
}

/// What a pass did: keepalive starts, probes, unmanaged starts.
type Done = (
    Vec<(String, bool)>,
    Vec<(String, Kind, bool)>,
    Vec<(String, bool)>,
);

/// The pods fold first, then the device (so the listing is never older than the fold it is
/// recorded against, `observations`).
async fn gather(
    pods: Addr<PodsActor>,
    pods_view: Published<PodsState>,
    device: crate::actors::device::DeviceLink,
    observations: Observations,
) -> Result<Gathered, String> {
    let snapshot = pods_view
        .read(&pods)
        .await
        .map_err(|e| format!("pods actor: {e}"))?;
    let state = snapshot.state;
    let keys: BTreeSet<String> = state.units.values().map(|u| u.pod.clone()).collect();
    let runnable = pods
        .send(Runnable {
            keys: keys.into_iter().collect(),
        })
        .await
        .map_err(|e| format!("pods actor: {e}"))?
        .into_iter()
        .collect();
    // LC-3: one bulk listing per tick.
    let listed = match device.get().await {
        Ok(ros) => ros.list_containers().await.map(|rows| (ros, rows)),
        Err(e) => Err(e),
    };
    let (ros, rows) = match listed {
        Ok(l) => l,
        Err(e) => {
            let e = e.to_string();
            observations.record_listing(&state, &snapshot.seqs, Err(&e));
            return Err(e);
        }
    };
    observations.record_listing(&state, &snapshot.seqs, Ok(&rows));
    Ok(Gathered {
        state,
        runnable,
        ros,
        rows,
    })
}

pub(super) fn transition(pods: &Addr<PodsActor>, unit: &str, t: Transition) {
    let msg = UnitTransition {
        unit: unit.to_string(),
        transition: t,
        correlation: format!("lifecycle/{unit}"),
    };
    let pods = pods.clone();
    actix::spawn(async move {
        match pods.send(msg).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "lifecycle transition not recorded"),
            Err(e) => tracing::warn!(error = %e, "pods actor unreachable"),
        }
    });
}

impl LifecycleActor {
    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.ticking {
            return;
        }
        self.ticking = true;
        let pass = gather(
            self.pods.clone(),
            self.pods_view.clone(),
            self.device.clone(),
            self.observations.clone(),
        )
        .into_actor(self)
        .map(|g, act, ctx| act.plan(g, ctx))
        .then(|work, act, _| execute(act.pods.clone(), work).into_actor(act))
        .map(|(started, probed, unmanaged), act, ctx| {
            act.ticking = false;
            let now = Instant::now();
            for (name, ok) in unmanaged {
                super::unmanaged::started(&mut act.unmanaged, &name, ok, now);
            }
            act.apply(started, probed, ctx);
            let verdicts = act
                .units
                .iter()
                .map(|(name, u)| (name.clone(), u.ready && u.startup_done))
                .collect();
            act.observations.record_readiness(&act.last_pods, &verdicts);
        });
        ctx.spawn(pass);
    }

    /// Syncs the runtime map with the fold and the listing; picks keepalive starts, due
    /// probes and `OnFailed` recreations.
    fn plan(&mut self, g: Result<Gathered, String>, ctx: &mut Context<Self>) -> Work {
        let g = match g {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "watchdog pass skipped");
                return Work::default();
            }
        };
        let now = Instant::now();
        let s = self.settings.clone();
        self.last_pods = g.state.clone();
        self.units
            .retain(|name, _| g.state.units.contains_key(name));
        let mut work = Work {
            ros: Some(g.ros.clone()),
            unmanaged: super::unmanaged::plan(
                &mut self.unmanaged,
                &g.state,
                &g.rows,
                s.cooldown,
                now,
            ),
            ..Default::default()
        };
        for (name, unit) in &g.state.units {
            let Some(desired) = g.state.pods.get(&unit.pod) else {
                continue;
            };
            let Some((cname, rec)) = desired
                .containers
                .iter()
                .find(|(_, c)| &c.device_name == name && c.is_created())
            else {
                continue;
            };
            let rt = self.units.entry(name.clone()).or_insert_with(|| {
                UnitRuntime::new(
                    unit.pod.clone(),
                    rec.device_id.clone(),
                    Probes::default(),
                    now,
                )
            });
            if rt.device_id != rec.device_id {
                // A new device container (the pod was recreated): start over (L-4 grace).
                *rt = UnitRuntime::new(
                    unit.pod.clone(),
                    rec.device_id.clone(),
                    Probes::default(),
                    now,
                );
            }
            let probes = desired
                .pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .find(|c| &c.name == cname)
                .map(Probes::of)
                .unwrap_or_default();
            if rt.probes != probes {
                rt.startup_done = probes.startup.is_none();
                rt.probes = probes;
            }
            rt.restarts = unit.restarts;
            let runnable = g.runnable.contains(&unit.pod);
            // LC-6 OnFailed, once per pod, after the L-4 grace.
            if unit.failed.is_some() {
                if runnable
                    && now.saturating_duration_since(rt.created) >= s.grace
                    && self.recreating.insert(unit.pod.clone())
                {
                    self.on_failed(name, unit.failed.clone().unwrap_or_default(), ctx);
                }
                continue;
            }
            if !runnable || rt.restarting {
                continue;
            }
            let Some(row) = g.rows.iter().find(|r| &r.name == name) else {
                continue;
            };
            if row.state.is_stopped() {
                if !rt.stopped {
                    rt.stopped = true;
                    transition(&self.pods, name, Transition::Stopped);
                }
                // LC-3 keepalive, LC-4 cooldown.
                if unit.start_on_boot && !rt.cooling(s.cooldown, now) && !row.id.is_empty() {
                    rt.restarting = true;
                    work.starts.push(Start {
                        unit: name.clone(),
                        id: row.id.clone(),
                        restarts: unit.restarts.saturating_add(1),
                    });
                }
                continue;
            }
            rt.stopped = false;
            if !row.state.is_running() {
                continue;
            }
            for (kind, spec) in rt.due(now) {
                work.probes.push((name.clone(), kind, spec, rec.ip.clone()));
            }
        }
        work
    }

    fn on_failed(&mut self, unit: &str, reason: String, ctx: &mut Context<Self>) {
        let msg = RecreateFailedUnit {
            unit: unit.to_string(),
            reason,
            correlation: format!("lifecycle/{unit}/onfailed"),
        };
        let unit = unit.to_string();
        let sent = self.pods.send(msg).into_actor(self).map(move |r, act, _| {
            if let Some(pod) = act.units.get(&unit).map(|u| u.pod.clone()) {
                act.recreating.remove(&pod);
            }
            match r {
                Ok(Recreated::Queued(pod)) => {
                    tracing::info!(%unit, %pod, "OnFailed: pod recreation queued")
                }
                Ok(other) => tracing::warn!(%unit, outcome = ?other, "OnFailed: pod not recreated"),
                Err(e) => tracing::warn!(%unit, error = %e, "OnFailed: pods actor unreachable"),
            }
        });
        ctx.spawn(sent);
    }

    fn apply(
        &mut self,
        started: Vec<(String, bool)>,
        probed: Vec<(String, Kind, bool)>,
        ctx: &mut Context<Self>,
    ) {
        let now = Instant::now();
        for (unit, ok) in started {
            if let Some(rt) = self.units.get_mut(&unit) {
                if ok {
                    rt.stopped = false;
                    rt.restarted(now);
                    if let Some(m) = &self.metrics {
                        m.count_container_restart("keepalive");
                    }
                } else {
                    rt.restarting = false;
                }
            }
        }
        for (unit, kind, ok) in probed {
            let Some(rt) = self.units.get_mut(&unit) else {
                continue;
            };
            match rt.record(kind, ok, now) {
                Verdict::Nothing => {}
                Verdict::Recovered => transition(&self.pods, &unit, Transition::Recovered),
                Verdict::Restart(reason) => {
                    transition(
                        &self.pods,
                        &unit,
                        Transition::Unhealthy {
                            reason: reason.clone(),
                        },
                    );
                    self.restart(&unit, reason, ctx);
                }
            }
        }
    }
}

/// Keepalive starts (each recorded before the pass ends, so the next pass reads the new
/// count) and probes, concurrently; probes each under their own timeout (§7.3).
async fn execute(pods: Addr<PodsActor>, work: Work) -> Done {
    let Some(ros) = work.ros else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let unmanaged = async {
        let mut out = Vec::new();
        for (name, id) in &work.unmanaged {
            let ok = match ros.start_container(id).await {
                Ok(()) => {
                    tracing::info!(container = %name, "keepalive: unmanaged container started again (LC-1, LC-3)");
                    true
                }
                Err(e) => {
                    tracing::warn!(container = %name, error = %e, "keepalive start of an unmanaged container failed");
                    false
                }
            };
            out.push((name.clone(), ok));
        }
        out
    };
    let starts = async {
        let mut out = Vec::new();
        for s in work.starts {
            let ok = match ros.start_container(&s.id).await {
                Ok(()) => {
                    tracing::info!(unit = %s.unit, restarts = s.restarts, "keepalive: container started again (LC-3)");
                    let msg = UnitTransition {
                        unit: s.unit.clone(),
                        transition: Transition::Restarted {
                            restarts: s.restarts,
                            reason: "keepalive: container stopped".into(),
                        },
                        correlation: format!("lifecycle/{}", s.unit),
                    };
                    if let Ok(Err(e)) = pods.send(msg).await {
                        tracing::warn!(unit = %s.unit, error = %e, "restart not recorded");
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(unit = %s.unit, error = %e, "keepalive start failed");
                    false
                }
            };
            out.push((s.unit, ok));
        }
        out
    };
    let probes = futures::future::join_all(work.probes.into_iter().map(
        |(unit, kind, spec, ip)| async move {
            let ok = spec.run(&ip).await;
            (unit, kind, ok)
        },
    ));
    futures::future::join3(starts, probes, unmanaged).await
}
