//! The soak's phases: start the site, run workload and faults, stop the faults, wait for
//! convergence, check that the log holds what was promised (restart from it), report.

use super::config::{self, BRIDGE, GATEWAY};
use super::faults::{self, Fault};
use super::http::{client, control};
use super::image::Pusher;
use super::invariants;
use super::measure::{self, ProcessSample};
use super::observe::{Observed, observe};
use super::processes::{Program, Site, wait_http};
use super::replay;
use super::report::Outcome;
use super::workload::Workload;
use anyhow::{Context, Result};
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Options {
    pub minutes: f64,
    pub seed: u64,
    pub pods: usize,
    /// The site's directory (logs, stores, the device's disk).
    pub dir: PathBuf,
    /// Where mkube, routeros-sim, microdns-sim and mkube-registry are.
    pub bins: PathBuf,
    /// scripts/make-demo-image.py.
    pub image_script: PathBuf,
    /// How long to wait for convergence after the faults stop.
    pub converge_seconds: u64,
    /// The workload's steady rate.
    pub writes_per_second: f64,
    /// Faults injected per minute, on average (they overlap on different parts of the site).
    pub faults_per_minute: f64,
    /// Never kill mkube: one process lives through every fault.
    pub spare_mkube: bool,
}
/// A new image digest every this long.
const PUSH_EVERY: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub async fn run(opts: &Options) -> Result<Outcome> {
    let http = client(Duration::from_secs(10))?;
    let mut site = Site::new(opts.dir.clone(), opts.bins.clone())?;
    config::write(&site)?;
    let mut pusher = Pusher::new(
        opts.image_script.clone(),
        opts.dir.join("images"),
        site.registry(),
    );
    let result = soak(opts, &mut site, &http, &mut pusher).await;
    site.stop_all().await;
    result
}

async fn soak(
    opts: &Options,
    site: &mut Site,
    http: &reqwest::Client,
    pusher: &mut Pusher,
) -> Result<Outcome> {
    start_site(site, http, pusher).await?;
    let mut workload = Workload::new(
        http.clone(),
        site.api(),
        pusher.reference(),
        opts.pods,
        opts.seed,
    );
    let at_start = warm_up(opts, site, http, pusher, &mut workload).await?;
    let faults = chaos(opts, site, http, pusher, &mut workload).await?;

    println!("soak: faults stopped; clearing and settling unanswered writes");
    faults::clear_all(site, http).await?;
    wait_ready(site).await?;
    let faults_ended = Instant::now();
    let passes_before = measure::reconcile_passes(http, &site.api()).await.ok();
    workload.settle_uncertain().await;

    let digest = pusher.served_digest(http).await.ok();
    let (converged, end) = converge(site, http, &workload, digest.as_deref(), opts).await?;
    let passes_after = measure::reconcile_passes(http, &site.api()).await.ok();
    let at_end = sample_mkube(site);
    println!(
        "soak: converged after the last fault in {} reconcile passes ({:.0} s)",
        match (passes_before, passes_after) {
            (Some(b), Some(a)) => a.saturating_sub(b).to_string(),
            _ => "?".into(),
        },
        faults_ended.elapsed().as_secs_f64()
    );
    print_process_figures(site, at_start, at_end);
    println!("soak: API latency {}", workload.latencies.describe());
    let mut outcome = Outcome {
        seed: opts.seed,
        minutes: opts.minutes,
        faults,
        writes_acked: workload.ledger.acked,
        lost: invariants::lost(&workload.ledger, &end),
        duplicates: invariants::duplicates(&end),
        leaks: invariants::leaks(&end),
        converged,
    };
    for w in &end.consistency_warnings {
        println!("soak: consistency warning: {w}");
    }
    if !converged {
        for why in invariants::not_converged(&end, digest.as_deref()) {
            println!("soak: not converged: {why}");
        }
    }
    // "Lost" also means absent from the log: its fold (mkube replay) and a controller started
    // from the log alone must show every promise too.
    let folded = replay::replayed(site, &end).await?;
    for l in invariants::lost(&workload.ledger, &folded) {
        outcome.lost.push(format!("in the log (mkube replay): {l}"));
    }
    let restarted = restart_from_log(site, http).await?;
    for l in invariants::lost(&workload.ledger, &restarted) {
        outcome
            .lost
            .push(format!("after a restart from the log: {l}"));
    }
    println!(
        "soak: writes refused={} unavailable={} unanswered={} still uncertain={}",
        workload.ledger.refused,
        workload.ledger.unavailable,
        workload.ledger.unanswered,
        workload.ledger.uncertain_count()
    );
    Ok(outcome)
}

/// NATS, the device (bridge and gateway seeded, some latency), microdns, the registry with a
/// first image, and mkube, ready (also the console's browser test's site).
pub async fn start_site(
    site: &mut Site,
    http: &reqwest::Client,
    pusher: &mut Pusher,
) -> Result<()> {
    site.start(Program::Nats).await?;
    site.start(Program::Device).await?;
    // The operator pre-creates the network's bridge with the gateway's address.
    let seed = json!({
        "bridges": [BRIDGE],
        "addresses": [{"address": format!("{GATEWAY}/24"), "interface": BRIDGE}]
    });
    let url = format!("{}/_sim/seed", site.device());
    control(http, Method::POST, &url, Some(seed)).await?;
    // A device that is not instant: some latency with jitter on every call, the default
    // extraction time per image.
    let knobs = json!({"latencyMs": 5, "jitterMs": 20});
    let url = format!("{}/_sim/knobs", site.device());
    control(http, Method::PATCH, &url, Some(knobs)).await?;
    site.start(Program::Dns).await?;
    site.start(Program::Registry).await?;
    let digest = pusher
        .push_new(http)
        .await
        .context("the first image push")?;
    println!("soak: pushed {} ({digest})", pusher.reference());
    site.start(Program::Mkube).await?;
    wait_ready(site).await?;
    println!(
        "soak: site up in {} (API {})",
        site.dir.display(),
        site.api()
    );
    Ok(())
}

/// Every pod and ConfigMap written once, then a wait until the site shows them: mkube's
/// figures at the start are taken from a site at work, not an empty one.
async fn warm_up(
    opts: &Options,
    site: &Site,
    http: &reqwest::Client,
    pusher: &Pusher,
    workload: &mut Workload,
) -> Result<Option<ProcessSample>> {
    println!("soak: warm-up: {} pods", opts.pods);
    workload.populate().await;
    let digest = pusher.served_digest(http).await.ok();
    let (converged, _) = converge(site, http, workload, digest.as_deref(), opts).await?;
    if !converged {
        println!("soak: warm-up did not converge; faults start anyway");
    }
    let sample = sample_mkube(site);
    if let Some(s) = sample {
        println!("soak: mkube after warm-up: {}", s.describe());
    }
    Ok(sample)
}

fn sample_mkube(site: &Site) -> Option<ProcessSample> {
    let pid = site.pid(Program::Mkube)?;
    ProcessSample::of(pid).ok()
}

/// mkube's RSS and descriptors after warm-up and after convergence, and how much of the run
/// the last process saw (a kill -9 starts a new one).
fn print_process_figures(site: &Site, start: Option<ProcessSample>, end: Option<ProcessSample>) {
    let (Some(a), Some(b)) = (start, end) else {
        println!("soak: mkube's RSS and descriptors could not be read");
        return;
    };
    let growth = |x: f64, y: f64| (y - x) / x.max(1.0) * 100.0;
    let (starts, last) = site.started(Program::Mkube);
    println!(
        "soak: mkube start {} end {} (rss {:+.1}%, fds {:+.1}%); mkube started {} times, the last process up {:.0} s",
        a.describe(),
        b.describe(),
        growth(a.rss_kib as f64, b.rss_kib as f64),
        growth(a.fds as f64, b.fds as f64),
        starts,
        last.map_or(0.0, |t| t.elapsed().as_secs_f64())
    );
}

pub async fn wait_ready(site: &Site) -> Result<()> {
    wait_http(&format!("{}/readyz", site.api()), Duration::from_secs(120)).await
}

/// The fault phase: writes at a steady rate, image pushes, the scheduled faults. Returns the
/// number of faults injected.
async fn chaos(
    opts: &Options,
    site: &mut Site,
    http: &reqwest::Client,
    pusher: &mut Pusher,
    workload: &mut Workload,
) -> Result<u32> {
    let phase = opts.minutes * 60.0;
    let schedule = faults::schedule(plan(opts));
    println!(
        "soak: {} faults scheduled over {phase:.0} s",
        schedule.len()
    );
    let start = Instant::now();
    let mut next = schedule.iter().peekable();
    let mut active: Vec<&Fault> = Vec::new();
    let mut injected = 0;
    let mut last_push = Instant::now();
    let mut last_progress = Instant::now();
    let write_every = Duration::from_secs_f64(1.0 / opts.writes_per_second.clamp(0.1, 50.0));
    while start.elapsed().as_secs_f64() < phase {
        let now = start.elapsed().as_secs_f64();
        let mut still = Vec::new();
        for f in active.drain(..) {
            if now < f.at + f.lasts {
                still.push(f);
                continue;
            }
            if let Err(e) = faults::clear(site, http, f).await {
                println!(
                    "soak: ending {} failed (retrying): {e:#}",
                    f.kind.describe()
                );
                still.push(f);
            }
        }
        active = still;
        while let Some(f) = next.next_if(|f| now >= f.at) {
            injected += 1;
            println!(
                "soak: t={now:.0}s fault {injected}: {} for {:.0} s ({} at once)",
                f.kind.describe(),
                f.lasts,
                active.len() + 1
            );
            if let Err(e) = faults::inject(site, http, f).await {
                println!("soak: injecting {} failed: {e:#}", f.kind.describe());
            }
            active.push(f);
        }
        workload.during_fault = !active.is_empty();
        let tick = Instant::now();
        workload.step().await;
        if last_push.elapsed() >= PUSH_EVERY {
            last_push = Instant::now();
            match pusher.push_new(http).await {
                Ok(d) => println!("soak: t={now:.0}s pushed a new image {d}"),
                Err(e) => println!("soak: t={now:.0}s image push failed: {e:#}"),
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            let current = if active.is_empty() {
                "none".to_string()
            } else {
                let kinds: Vec<String> = active.iter().map(|f| f.kind.describe()).collect();
                kinds.join(" + ")
            };
            let l = &workload.ledger;
            println!(
                "soak: t={now:.0}s faults={injected} acked={} refused={} unavailable={} unanswered={} current={current}",
                l.acked, l.refused, l.unavailable, l.unanswered
            );
        }
        tokio::time::sleep(write_every.saturating_sub(tick.elapsed())).await;
    }
    Ok(injected)
}

pub fn plan(opts: &Options) -> faults::Plan {
    faults::Plan {
        seed: opts.seed,
        phase: opts.minutes * 60.0,
        per_minute: opts.faults_per_minute,
        spare_mkube: opts.spare_mkube,
    }
}

/// Reads the site until nothing is wrong or the bound passes; returns the last read.
async fn converge(
    site: &Site,
    http: &reqwest::Client,
    workload: &Workload,
    digest: Option<&str>,
    opts: &Options,
) -> Result<(bool, Observed)> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(opts.converge_seconds);
    let mut last_progress = Instant::now();
    loop {
        let problems = match observe(site, http).await {
            Ok(o) => {
                let mut p = invariants::not_converged(&o, digest);
                p.extend(invariants::lost(&workload.ledger, &o));
                p.extend(invariants::duplicates(&o));
                p.extend(invariants::leaks(&o));
                if p.is_empty() {
                    println!(
                        "soak: converged after {:.0} s: {}",
                        start.elapsed().as_secs_f64(),
                        o.summary()
                    );
                    return Ok((true, o));
                }
                if Instant::now() > deadline {
                    return Ok((false, o));
                }
                p
            }
            Err(e) => {
                if Instant::now() > deadline {
                    return Err(e.context("reading the site after the convergence wait"));
                }
                vec![format!("read failed: {e:#}")]
            }
        };
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            println!(
                "soak: converging t+{:.0}s, {} left, e.g. {}",
                start.elapsed().as_secs_f64(),
                problems.len(),
                problems[0]
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// kill -9 of mkube, started again: what it serves after replay is what the log holds.
async fn restart_from_log(site: &mut Site, http: &reqwest::Client) -> Result<Observed> {
    site.kill(Program::Mkube).await;
    site.start(Program::Mkube).await?;
    wait_ready(site).await?;
    observe(site, http).await
}
