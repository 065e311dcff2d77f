//! One repair pass (§6.3), under one deadline, in order: IPAM resync, CC-R1 orphan
//! containers, CC-R2 orphan veths, CC-R3 orphan allocations, CC-R4 network repair, CC-R5
//! stale DNS. It runs only while NATS is connected and after one good read of the device (a
//! failed read is not an empty read, L-1 (b)); a guard that refuses (`sweep`) stops it. In a
//! dry run it decides and reports, and changes nothing. A quiet pass writes nothing and
//! appends nothing.

use super::ages::Ages;
use super::claims::Claims;
use super::manifest::ManifestView;
use super::network::{Strike, broken, pod_network, strike};
use super::reap::{ReapError, reap};
use super::report::Mode;
use super::state::ConsistencyState;
use super::sweep::{Resource, SweepFacts, sweep};
use super::{ConsistencyActor, Deps, Record, Settings};
use crate::actors::dns::{DnsPassReport, SyncZones};
use crate::actors::pods::{RecreateFresh, Recreated, Runnable};
use crate::actors::reconcile::ipam_sync;
use crate::actors::rollout::Redeploying;
use crate::events::EventLog;
use crate::events::catalogue::ConsistencyEvent;
use crate::pod::PodKey;
use crate::routeros::Veth;
use actix::Addr;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// What one pass did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepairReport {
    /// Why the pass did not run (NATS disconnected, the device unreadable, the deadline).
    pub skipped: Option<String>,
    /// Why the sweeps were refused (L-1); the pass stopped there.
    pub refused: Option<String>,
    pub dry_run: bool,
    /// `(resource, name)` of each orphan reaped (in a dry run: that would be).
    pub reaped: Vec<(String, String)>,
    /// `(resource/name, error)` of each reap that did not finish.
    pub failed: Vec<(String, String)>,
    /// CC-R4: `(pod, failures)` counted, pods recovered, and rebuilds asked for.
    pub counted: Vec<(String, u32)>,
    pub recovered: Vec<String>,
    pub rebuilt: Vec<(String, Recreated)>,
    /// CC-R5.
    pub dns: Option<DnsPassReport>,
}

impl RepairReport {
    pub fn skipped(why: &str) -> RepairReport {
        RepairReport {
            skipped: Some(why.to_string()),
            ..RepairReport::default()
        }
    }
}

pub(super) struct PassJob {
    pub deps: Deps,
    pub settings: Settings,
    pub log: EventLog,
    pub me: Addr<ConsistencyActor>,
    /// The checker's fold as the pass began.
    pub state: ConsistencyState,
    pub correlation: String,
}

/// Runs the pass under its deadline; gives back the pods' ages.
pub(super) async fn run(job: PassJob, mut ages: Ages) -> (RepairReport, Ages) {
    let started = Instant::now();
    let deadline = job.settings.deadline;
    let (report, stopped) = match tokio::time::timeout(deadline, steps(&job, &mut ages)).await {
        Ok(r) => {
            let stopped = stop_reason(&r);
            (r, stopped)
        }
        Err(_) => {
            tracing::warn!(
                ?deadline,
                "CONSISTENCY: pass deadline reached; the next pass goes on"
            );
            let r = RepairReport::skipped("the pass deadline was reached");
            (r, Some("deadline"))
        }
    };
    if let Some(m) = &job.deps.metrics {
        count_pass(m, &report, stopped);
    }
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        skipped = ?report.skipped,
        refused = ?report.refused,
        dry_run = report.dry_run,
        reaped = report.reaped.len(),
        failed = report.failed.len(),
        counted = report.counted.len(),
        rebuilt = report.rebuilt.len(),
        "CONSISTENCY: pass complete"
    );
    (report, ages)
}

/// The `reason` label of a pass that did not run to its end: `refused` (a guard refused
/// the sweeps, L-1) or `skipped` (NATS, the device or the actors unavailable). The free-text
/// reason stays in the log and the report; the label keeps to this fixed set.
fn stop_reason(report: &RepairReport) -> Option<&'static str> {
    if report.refused.is_some() {
        Some("refused")
    } else if report.skipped.is_some() {
        Some("skipped")
    } else {
        None
    }
}

/// A pass's reaps (not a dry run's "would reap"), network rebuilds queued and stop into
/// `metrics`.
fn count_pass(m: &crate::metrics::Metrics, report: &RepairReport, stopped: Option<&'static str>) {
    if !report.dry_run {
        for resource in [Resource::Container, Resource::Veth, Resource::Allocation] {
            let name = resource.as_str();
            let count = report.reaped.iter().filter(|(r, _)| r == name).count();
            if count > 0 {
                m.count_reaps(name, count);
            }
        }
        let rebuilds = report
            .rebuilt
            .iter()
            .filter(|(_, r)| matches!(r, Recreated::Queued(_)))
            .count();
        if rebuilds > 0 {
            m.count_network_repairs(rebuilds);
        }
    }
    if let Some(reason) = stopped {
        m.count_consistency_stopped(reason);
    }
}

async fn steps(job: &PassJob, ages: &mut Ages) -> RepairReport {
    let deps = &job.deps;
    let mut report = RepairReport {
        dry_run: job.settings.mode == Mode::DryRun,
        ..RepairReport::default()
    };
    if !job.log.is_connected() {
        return RepairReport::skipped("NATS disconnected");
    }
    let Ok(pods) = deps.pods_view.read(&deps.pods).await else {
        return RepairReport::skipped("actors stopped");
    };
    let device = match super::observe::read_device(deps, &job.settings).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "CONSISTENCY: device not read; pass skipped");
            return RepairReport::skipped(&e);
        }
    };
    if let Err(e) = ipam_sync::resync(&deps.ipam, &pods.state, &deps.config, &device.veths).await {
        tracing::warn!(error = %e, "CONSISTENCY: IPAM resync failed; pass stopped");
        return RepairReport::skipped(&format!("IPAM resync failed: {e}"));
    }
    let Ok(ipam) = deps.ipam_view.read(&deps.ipam).await else {
        return RepairReport::skipped("actors stopped");
    };
    let manifest = ManifestView::read(&deps.config);
    let plan = sweep(&SweepFacts {
        device: &device,
        pods: &pods.state,
        manifest: &manifest,
        ipam: &ipam.state,
        max_fraction: job.settings.max_fraction,
    });
    if let Some(refusal) = &plan.refusal {
        tracing::error!(%refusal, orphans = plan.orphans.len(), "CONSISTENCY: sweep refused; pass stopped (L-1)");
        report.refused = Some(refusal.to_string());
        return report;
    }
    // CC-R1, CC-R2, CC-R3 in that order (the sweep lists them so).
    for orphan in &plan.orphans {
        let label = (orphan.resource.as_str().to_string(), orphan.name.clone());
        if report.dry_run {
            tracing::info!(resource = label.0, name = %label.1, reason = %orphan.reason, "CONSISTENCY: dry run: would reap");
            report.reaped.push(label);
            continue;
        }
        // The desired set may have grown since the read: a pod declared meanwhile claims it.
        let now = deps.pods_view.read(&deps.pods).await.map(|s| s.state);
        let claimed = now.as_ref().map_or(true, |p| {
            let claims = Claims::of(p, manifest.pods());
            match orphan.resource {
                Resource::Container => claims.container(&orphan.name),
                _ => claims.veth(&orphan.name),
            }
        });
        if claimed {
            continue;
        }
        match reap(deps, &job.me, &job.state, orphan, &job.correlation).await {
            Ok(()) => report.reaped.push(label),
            Err(ReapError::Unrecorded(e)) => {
                tracing::warn!(error = %e, "CONSISTENCY: a reap could not be recorded; pass stopped");
                report.failed.push((format!("{}/{}", label.0, label.1), e));
                return report;
            }
            Err(ReapError::Removal(e)) => {
                tracing::warn!(resource = label.0, name = %label.1, error = %e, "CONSISTENCY: reap failed; the next pass retries");
                report.failed.push((format!("{}/{}", label.0, label.1), e));
            }
        }
    }
    let veths: HashMap<&str, &Veth> = device.veths.iter().map(|v| (v.name.as_str(), v)).collect();
    if let Err(e) = network_repair(job, ages, &veths, &mut report).await {
        tracing::warn!(error = %e, "CONSISTENCY: network repair stopped");
        return report;
    }
    if !report.dry_run
        && let Ok(now) = deps.pods_view.read(&deps.pods).await
    {
        let sync = SyncZones {
            pods: now.state,
            correlation: job.correlation.clone(),
        };
        report.dns = deps.dns.send(sync).await.ok();
    }
    report
}

/// CC-R4: each desired pod's network; three broken passes in a row rebuild it with fresh
/// veths and addresses (a queued per-pod job, `RecreateFresh`), skipping pods with work
/// pending (busy or backing off), being redeployed, or within their grace (L-4).
async fn network_repair(
    job: &PassJob,
    ages: &mut Ages,
    veths: &HashMap<&str, &Veth>,
    report: &mut RepairReport,
) -> Result<(), String> {
    let deps = &job.deps;
    let pods = deps
        .pods_view
        .read(&deps.pods)
        .await
        .map_err(|e| e.to_string())?;
    let keys: Vec<String> = pods.state.pods.keys().cloned().collect();
    let runnable: BTreeSet<String> = deps
        .pods
        .send(Runnable { keys })
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let redeploying = match &deps.rollout {
        Some(r) => r.send(Redeploying).await.unwrap_or_default(),
        None => BTreeSet::new(),
    };
    let now = Instant::now();
    ages.observe(&pods.state, now);
    for (key, p) in &pods.state.pods {
        let why = broken(&pod_network(&p.pod, Some(p), veths));
        let skip = !runnable.contains(key)
            || redeploying.contains(key)
            || ages.young(key, now, job.settings.grace);
        let id = PodKey::parse(key);
        let decided = strike(why.is_some(), job.state.failures(key), skip);
        let event = match decided {
            Strike::Nothing | Strike::Skip => continue,
            Strike::Recover => {
                report.recovered.push(key.clone());
                ConsistencyEvent::NetworkRecovered {
                    namespace: id.namespace.clone(),
                    name: id.name.clone(),
                }
            }
            Strike::Count(n) | Strike::Rebuild(n) => {
                tracing::warn!(pod = %key, failures = n, reason = why.as_deref().unwrap_or_default(), "CONSISTENCY: network broken");
                report.counted.push((key.clone(), n));
                ConsistencyEvent::NetworkFailureCounted {
                    namespace: id.namespace.clone(),
                    name: id.name.clone(),
                    failures: n,
                }
            }
        };
        if report.dry_run {
            continue;
        }
        job.me
            .send(Record {
                event,
                correlation: job.correlation.clone(),
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if let Strike::Rebuild(n) = decided {
            let ask = RecreateFresh {
                key: key.clone(),
                reason: format!(
                    "CC-R4: network broken {n} passes in a row: {}",
                    why.unwrap_or_default()
                ),
                correlation: job.correlation.clone(),
            };
            let answer = deps
                .pods
                .send(ask)
                .await
                .unwrap_or_else(|e| Recreated::Failed(e.to_string()));
            if matches!(answer, Recreated::Queued(_)) {
                ages.rebuilt(key, now);
            }
            report.rebuilt.push((key.clone(), answer));
        }
    }
    Ok(())
}
