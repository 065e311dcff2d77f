//! The consistency checker (controller.md §6): tells whether the device matches what mkube
//! believes, and repairs drift safely.
//!
//! - **The report** (`report/`, §6.1–§6.2): a pure function of one bulk read of the device,
//!   the published pods and IPAM folds, the boot manifest, one list per DNS zone and this
//!   actor's counters (`observe.rs` gathers them). Concurrent requests share one computation
//!   and recent reports are served from a cache (`cache.rs`, L-3).
//! - **The repair pass** (`pass.rs`, §6.3): after creates and deletes (`PodSettled`) and
//!   reconcile passes (`Reconciled`), at most one running and one pending (`schedule.rs`),
//!   under one deadline: IPAM resync, CC-R1…CC-R3 orphan sweeps (`sweep/`, guarded: L-1),
//!   CC-R4 network repair (`network.rs`, queued per-pod rebuilds), CC-R5 stale DNS (the dns
//!   actor's pass, L-8). Every reap and every counted or recovered failure is a fact here
//!   (`state.rs`), recorded before the reap (`reap.rs`).
//! - **On demand** (§6.4): CC-R3 alone, queued like a pass (`release.rs`).

mod ages;
mod cache;
pub mod claims;
#[cfg(test)]
mod fixtures;
pub mod manifest;
pub mod network;
mod observe;
mod pass;
mod reap;
mod release;
pub mod report;
pub mod schedule;
pub mod state;
pub mod sweep;

use super::device::DeviceLink;
use super::dns::DnsActor;
use super::ipam::IpamActor;
use super::ipam::state::IpamState;
use super::journal::{Journal, commit};
use super::pods::PodsActor;
use super::pods::settled::PodSettled;
use super::pods::state::PodsState;
use super::published::Published;
use super::reconcile::Reconciled;
use super::rollout::RolloutActor;
use super::veths::VethsActor;
use crate::config::Config;
use crate::events::AppendError;
use crate::events::catalogue::ConsistencyEvent;
use actix::prelude::*;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
pub use pass::RepairReport;
pub use release::ReleaseError;
use report::Mode;
pub use report::Served;
use schedule::{Next, Schedule};
use state::ConsistencyState;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Crash points of a sweep (`MKUBE_CRASH_AT`, as `pods::worker::crash`): after an
/// `OrphanReaped` was recorded, and after the object was removed.
pub const CRASH_POINTS: &[&str] = &["sweep.recorded", "sweep.reaped"];

/// What the checker reads and asks.
#[derive(Clone)]
pub struct Deps {
    pub config: Arc<Config>,
    /// `None` without the device engine (`standalone: false`): no device checks, no pass.
    pub device: Option<DeviceLink>,
    pub pods: Addr<PodsActor>,
    pub pods_view: Published<PodsState>,
    pub ipam: Addr<IpamActor>,
    pub ipam_view: Published<IpamState>,
    pub dns: Addr<DnsActor>,
    pub veths: Addr<VethsActor>,
    /// Knows the pods being redeployed (CC-R4 skips them).
    pub rollout: Option<Addr<RolloutActor>>,
    /// Reaps, repairs and stopped passes are counted here (`/metrics`).
    pub metrics: Option<crate::metrics::Metrics>,
}

/// `consistency.*` and the L-4 grace, with defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub max_fraction: f64,
    pub deadline: Duration,
    pub delay: Duration,
    pub report_max_age: Duration,
    /// CC-R4 leaves pods alone while their containers are younger (`lifecycle.recreateGraceSeconds`).
    pub grace: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let c = &config.consistency;
        let secs =
            |v: f64, d: f64| Duration::from_secs_f64(if v.is_finite() && v >= 0.0 { v } else { d });
        Settings {
            mode: match (c.repair, c.dry_run) {
                (false, _) => Mode::Off,
                (true, true) => Mode::DryRun,
                (true, false) => Mode::On,
            },
            max_fraction: c.max_reap_fraction,
            deadline: secs(c.pass_deadline_seconds, 30.0),
            delay: secs(c.delay_seconds, 5.0),
            report_max_age: secs(c.report_max_age_seconds, 5.0),
            grace: super::lifecycle::Settings::from_config(config).grace,
        }
    }
}

type ReportFuture = Shared<BoxFuture<'static, Arc<Served>>>;

pub struct ConsistencyActor {
    journal: Journal,
    state: ConsistencyState,
    deps: Deps,
    settings: Settings,
    schedule: Schedule,
    timer: Option<SpawnHandle>,
    /// Waiting for the next pass to end (`RunRepair`), and for the running one.
    waiting: Vec<oneshot::Sender<RepairReport>>,
    current: Vec<oneshot::Sender<RepairReport>>,
    /// On-demand releases, oldest first.
    releases: std::collections::VecDeque<oneshot::Sender<Result<Vec<String>, ReleaseError>>>,
    ages: ages::Ages,
    /// The last report and when its computation began; the computation in flight.
    cached: Option<(Instant, Arc<Served>)>,
    computing: Option<ReportFuture>,
}

impl ConsistencyActor {
    pub const NAME: &'static str = "consistency";
    pub const AREAS: &'static [&'static str] = &["consistency"];

    pub fn new(journal: Journal, state: ConsistencyState, deps: Deps) -> Self {
        let settings = Settings::from_config(&deps.config);
        ConsistencyActor {
            journal,
            state,
            deps,
            settings,
            schedule: Schedule::default(),
            timer: None,
            waiting: Vec::new(),
            current: Vec::new(),
            releases: Default::default(),
            ages: Default::default(),
            cached: None,
            computing: None,
        }
    }

    /// Whether this actor runs repair passes: repair on (or dry run) and a device engine.
    fn repairs(&self) -> bool {
        self.settings.mode != Mode::Off && self.deps.device.is_some()
    }

    fn act(&mut self, next: Next, ctx: &mut Context<Self>) {
        match next {
            Next::Nothing => {}
            Next::Wait => {
                let handle = ctx.run_later(self.settings.delay, |act, ctx| {
                    act.timer = None;
                    let next = act.schedule.timer_fired();
                    act.act(next, ctx);
                });
                self.timer = Some(handle);
            }
            Next::Pass => {
                if let Some(t) = self.timer.take() {
                    ctx.cancel_future(t);
                }
                self.start_pass(ctx);
            }
            Next::Release => self.start_release(ctx),
        }
    }

    fn trigger(&mut self, why: &str, ctx: &mut Context<Self>) {
        if !self.repairs() {
            return;
        }
        tracing::debug!(trigger = why, "consistency pass asked for");
        let next = self.schedule.trigger();
        self.act(next, ctx);
    }

    fn start_pass(&mut self, ctx: &mut Context<Self>) {
        self.current = std::mem::take(&mut self.waiting);
        let job = pass::PassJob {
            deps: self.deps.clone(),
            settings: self.settings.clone(),
            log: self.journal.log().clone(),
            me: ctx.address(),
            state: self.state.clone(),
            correlation: format!("consistency/{}", uuid::Uuid::new_v4()),
        };
        let ages = std::mem::take(&mut self.ages);
        let me = ctx.address();
        actix::spawn(async move {
            let (report, ages) = pass::run(job, ages).await;
            me.do_send(PassDone { report, ages });
        });
    }

    fn start_release(&mut self, ctx: &mut Context<Self>) {
        let Some(reply) = self.releases.pop_front() else {
            let next = self.schedule.ended();
            return self.act(next, ctx);
        };
        let job = release::ReleaseJob {
            deps: self.deps.clone(),
            me: ctx.address(),
            state: self.state.clone(),
            correlation: format!("consistency-repair/{}", uuid::Uuid::new_v4()),
        };
        let me = ctx.address();
        actix::spawn(async move {
            let _ = reply.send(release::run(job).await);
            me.do_send(ReleaseDone);
        });
    }

    /// The computation in flight, started if there is none.
    fn computing(&mut self, ctx: &mut Context<Self>) -> ReportFuture {
        if let Some(f) = &self.computing {
            return f.clone();
        }
        let (deps, settings) = (self.deps.clone(), self.settings.clone());
        let (counters, connected) = (self.state.clone(), self.journal.log().is_connected());
        let started = Instant::now();
        let fut: ReportFuture = async move {
            Arc::new(Served::new(
                observe::compute(&deps, &settings, &counters, connected).await,
            ))
        }
        .boxed()
        .shared();
        self.computing = Some(fut.clone());
        let (driver, me) = (fut.clone(), ctx.address());
        actix::spawn(async move {
            let report = driver.await;
            me.do_send(ReportReady { started, report });
        });
        fut
    }
}

impl Actor for ConsistencyActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(ConsistencyActor, ConsistencyState, Consistency(ConsistencyEvent) => apply);

/// A pod's job ended (a create, delete or rebuild): a pass follows (§3.1 step 11, §3.2 step 5).
impl Handler<PodSettled> for ConsistencyActor {
    type Result = ();

    fn handle(&mut self, msg: PodSettled, ctx: &mut Context<Self>) {
        let why = if msg.after.is_some() {
            "pod settled"
        } else {
            "pod removed"
        };
        self.trigger(why, ctx);
    }
}

/// A reconcile pass ended: a pass follows (§5 step 8).
impl Handler<Reconciled> for ConsistencyActor {
    type Result = ();

    fn handle(&mut self, _: Reconciled, ctx: &mut Context<Self>) {
        self.trigger("reconcile", ctx);
    }
}

/// Run a repair pass now (or as the pending one, behind a running pass) and answer with what
/// it did. For tests and benchmarks; the pass itself runs as any other.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "RepairReport")]
pub struct RunRepair;

impl Handler<RunRepair> for ConsistencyActor {
    type Result = ResponseFuture<RepairReport>;

    fn handle(&mut self, _: RunRepair, ctx: &mut Context<Self>) -> Self::Result {
        if !self.repairs() {
            let why = match self.deps.device {
                None => "no device engine (standalone: false)",
                Some(_) => "repair off (consistency.repair: false)",
            };
            return Box::pin(std::future::ready(RepairReport::skipped(why)));
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.push(tx);
        let next = self.schedule.run_now();
        self.act(next, ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| RepairReport::skipped("the consistency actor stopped"))
        })
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct PassDone {
    report: RepairReport,
    ages: ages::Ages,
}

impl Handler<PassDone> for ConsistencyActor {
    type Result = ();

    fn handle(&mut self, msg: PassDone, ctx: &mut Context<Self>) {
        self.ages = msg.ages;
        for waiter in self.current.drain(..) {
            let _ = waiter.send(msg.report.clone());
        }
        let next = self.schedule.ended();
        self.act(next, ctx);
    }
}

/// §6.4: release every IPAM entry whose veth is not on the device (CC-R3 on demand); the
/// released veth names. Queued behind a running pass.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<Vec<String>, ReleaseError>")]
pub struct ReleaseOrphans;

impl Handler<ReleaseOrphans> for ConsistencyActor {
    type Result = ResponseFuture<Result<Vec<String>, ReleaseError>>;

    fn handle(&mut self, _: ReleaseOrphans, ctx: &mut Context<Self>) -> Self::Result {
        if self.deps.device.is_none() {
            return Box::pin(std::future::ready(Err(ReleaseError::NoDevice)));
        }
        let (tx, rx) = oneshot::channel();
        self.releases.push_back(tx);
        let next = self.schedule.release();
        self.act(next, ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(ReleaseError::Stopped)) })
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct ReleaseDone;

impl Handler<ReleaseDone> for ConsistencyActor {
    type Result = ();

    fn handle(&mut self, _: ReleaseDone, ctx: &mut Context<Self>) {
        let next = self.schedule.ended();
        self.act(next, ctx);
    }
}

/// The report (§6.1), from the cache or a computation shared with concurrent requests.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Arc<Served>")]
pub struct GetReport;

impl Handler<GetReport> for ConsistencyActor {
    type Result = ResponseFuture<Arc<Served>>;

    fn handle(&mut self, _: GetReport, ctx: &mut Context<Self>) -> Self::Result {
        let age = self.cached.as_ref().map(|(at, _)| at.elapsed());
        match (
            cache::serve(age, self.settings.report_max_age),
            &self.cached,
        ) {
            (cache::Serve::Cached, Some((_, r))) => Box::pin(std::future::ready(r.clone())),
            (cache::Serve::CachedAndRefresh, Some((_, r))) => {
                let r = r.clone();
                // Driven by its own task; this request does not wait for it.
                let _refresh = self.computing(ctx);
                Box::pin(std::future::ready(r))
            }
            _ => Box::pin(self.computing(ctx)),
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct ReportReady {
    started: Instant,
    report: Arc<Served>,
}

impl Handler<ReportReady> for ConsistencyActor {
    type Result = ();

    fn handle(&mut self, msg: ReportReady, _: &mut Context<Self>) {
        self.computing = None;
        if self
            .cached
            .as_ref()
            .is_none_or(|(at, _)| *at <= msg.started)
        {
            self.cached = Some((msg.started, msg.report));
        }
    }
}

/// Records one of the checker's facts (the pass and the release ask; atomic, so appends
/// never interleave).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, AppendError>")]
struct Record {
    event: ConsistencyEvent,
    correlation: String,
}

impl Handler<Record> for ConsistencyActor {
    type Result = AtomicResponse<Self, Result<u64, AppendError>>;

    fn handle(&mut self, msg: Record, _: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(commit(self, msg.event.into(), &msg.correlation))
    }
}
