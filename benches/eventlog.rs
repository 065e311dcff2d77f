//! `cargo bench --bench eventlog`: the event log against a real `nats-server -js` (file
//! storage, `sync_interval: always`) on a free loopback port with a temporary store.
//!
//! 1. Durable append latency (p50/p99) and throughput through `EventLog::append`, one appender
//!    at a time and with concurrent appenders on different subjects.
//! 2. Replay rate of `fold_log` over a stream filled with realistic envelopes spread over a few
//!    hundred subjects, with a breakdown (reading only; decode + apply only).
//! 3. Boot-to-ready of the real binary (`mkube run`): spawn to `GET /readyz` == 200, without a
//!    snapshot and with the snapshot its clean shutdown (SIGTERM) writes.
//!
//! Prints a markdown table on stdout, progress on stderr. Scale with environment variables:
//! `MKUBE_BENCH_EVENTS` (events in the replayed log, 100000), `MKUBE_BENCH_APPENDS`
//! (sequential appends, 2000), `MKUBE_BENCH_APPENDERS` (concurrent appenders, 16),
//! `MKUBE_BENCH_CONCURRENT_APPENDS` (appends per concurrent appender, 250),
//! `MKUBE_BENCH_RUNS` (repetitions of replay and of each boot case, 3), `MKUBE_BENCH_PODS`
//! (pods in the filled log, 200), `MKUBE_BENCH_TAIL` (1: also append as many events again and
//! boot from the older snapshot plus that tail, then from a snapshot at the end; 0: skip).
//!
//! Without `--bench` (e.g. `cargo test --all-targets`) it does nothing.

#[allow(dead_code)]
#[path = "../tests/suite/common/nats.rs"]
mod nats;

#[path = "support/log_bench.rs"]
mod log_bench;

use futures::StreamExt;
use log_bench::{
    BootRun, Booter, Latencies, Table, Workload, append_event, append_one, bench_main, connect,
    env_u64, median_and_worst, ms, pod, rate, timed_fold,
};
use mkube::actors::Fold;
use mkube::events::Record;
use mkube::events::catalogue::{Event, IpamEvent, PodsEvent};
use mkube::events::log::EventLog;
use nats::NatsServer;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const NODE: &str = "bench-node";
const STREAM: &str = "MKUBE_EVENTS";
/// The append cases write to their own stream, so the replayed log holds exactly the fill.
const APPEND_NODE: &str = "bench-append";
const APPEND_STREAM: &str = "BENCH_APPEND";
const REPLAY_TARGET: f64 = 100_000.0;
const BOOT_TARGET: Duration = Duration::from_secs(1);

struct Params {
    events: u64,
    appends: u64,
    appenders: u64,
    concurrent_appends: u64,
    runs: u64,
    pods: u64,
    tail: bool,
}

impl Params {
    fn from_env() -> Params {
        Params {
            events: env_u64("MKUBE_BENCH_EVENTS", 100_000).max(1),
            appends: env_u64("MKUBE_BENCH_APPENDS", 2_000).max(1),
            appenders: env_u64("MKUBE_BENCH_APPENDERS", 16).max(1),
            concurrent_appends: env_u64("MKUBE_BENCH_CONCURRENT_APPENDS", 250).max(1),
            runs: env_u64("MKUBE_BENCH_RUNS", 3).max(1),
            pods: env_u64("MKUBE_BENCH_PODS", 200).clamp(1, 240),
            tail: env_u64("MKUBE_BENCH_TAIL", 1) != 0,
        }
    }
}

fn main() {
    let params = Params::from_env();
    bench_main("eventlog", || run(&params));
}

async fn run(p: &Params) -> Table {
    let nats = NatsServer::start();
    let url = nats.url();
    let mut table = Table::default();

    // 1. Appends.
    let append_log = connect(&url, APPEND_NODE, APPEND_STREAM).await;
    bench_appends(&append_log, p, &mut table).await;

    // 2. Fill and replay.
    let log = connect(&url, NODE, STREAM).await;
    let mut workload = Workload::new(NODE, "web", p.pods);
    eprintln!("eventlog: filling {} events", p.events);
    let fill = workload.fill(&log, p.events).await;
    table.row(
        format!(
            "Fill: pipelined publishes ({} in flight), {} events",
            log_bench::FILL_WINDOW,
            p.events
        ),
        format!("{} events/s", rate(p.events, fill)),
        "",
        None,
    );
    bench_replay(&log, p, &mut table).await;

    // 3. Boot the binary.
    let dir = tempfile::tempdir().expect("temp dir");
    let boots = Booter::new(dir.path(), &url, NODE, STREAM);
    let n = p.events;
    let runs = boots.no_snapshot_runs(&log, p.runs).await;
    report(&format!("{n} events, no snapshot"), runs, false, &mut table);
    let runs = boots.snapshot_runs(p.runs).await;
    report(
        &format!("{n} events, snapshot at the end"),
        runs,
        true,
        &mut table,
    );
    if p.tail {
        eprintln!("eventlog: appending {n} more events");
        workload.fill(&log, n).await;
        let snap = boots.latest_snapshot_seq(&log).await;
        let label = format!("{} events, snapshot at {snap} (tail {n})", 2 * n);
        report(&label, boots.snapshot_runs(1).await, true, &mut table);
        let label = format!("{} events, snapshot at the end", 2 * n);
        report(&label, boots.snapshot_runs(p.runs).await, true, &mut table);
    }
    table
}

// ---------------------------------------------------------------------------------------------
// 1. Appends

async fn bench_appends(log: &EventLog, p: &Params, table: &mut Table) {
    // Warm up the connection and the stream's files.
    let mut seqs = HashMap::new();
    for i in 0..50 {
        append_one(log, &mut seqs, &append_event(i % 8, i)).await;
    }

    eprintln!("eventlog: {} sequential appends", p.appends);
    let mut latencies = Vec::with_capacity(p.appends as usize);
    let started = Instant::now();
    for i in 0..p.appends {
        latencies.push(append_one(log, &mut seqs, &append_event(i % 32, i)).await);
    }
    let elapsed = started.elapsed();
    let l = Latencies::new(latencies);
    table.row(
        format!("Append latency, sequential ({} appends)", p.appends),
        format!("p50 {}, p99 {}", ms(l.pct(50.0)), ms(l.pct(99.0))),
        "",
        None,
    );
    table.row(
        "Append throughput, sequential",
        format!("{} events/s", rate(p.appends, elapsed)),
        "",
        None,
    );

    let (n, m) = (p.appenders, p.concurrent_appends);
    eprintln!("eventlog: {n} concurrent appenders x {m} appends");
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|a| {
            let log = log.clone();
            tokio::spawn(async move {
                // Each appender owns its subject, as each actor owns its keys.
                let mut seqs = HashMap::new();
                let mut out = Vec::with_capacity(m as usize);
                for i in 0..m {
                    out.push(append_one(&log, &mut seqs, &concurrent_event(a, i)).await);
                }
                out
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("appender"));
    }
    let elapsed = started.elapsed();
    let l = Latencies::new(latencies);
    table.row(
        format!(
            "Append latency, {n} concurrent appenders ({} appends)",
            n * m
        ),
        format!("p50 {}, p99 {}", ms(l.pct(50.0)), ms(l.pct(99.0))),
        "",
        None,
    );
    table.row(
        format!("Append throughput, {n} concurrent appenders"),
        format!("{} events/s", rate(n * m, elapsed)),
        "",
        None,
    );
}

/// Appender `a`'s events: all on its own subject (a pod, or a network's pool).
fn concurrent_event(a: u64, i: u64) -> Event {
    if a.is_multiple_of(2) {
        let name = format!("conc-{a}");
        PodsEvent::PodUpdated {
            namespace: "bench".into(),
            name: name.clone(),
            pod: Box::new(pod("bench", &name, i)),
        }
        .into()
    } else {
        IpamEvent::IpAllocated {
            network: format!("n{a}"),
            key: format!("veth_bench_{i}_0"),
            ip: Ipv4Addr::new(127, 78, (i / 250) as u8, (i % 250) as u8 + 2),
            hostname: format!("h{i}.n{a}.lo"),
            is_static: false,
        }
        .into()
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Replay

async fn bench_replay(log: &EventLog, p: &Params, table: &mut Table) {
    let n = log.last_sequence().await.expect("last sequence");

    // Reading only: the ordered consumer through `EventLog::read`, nothing decoded.
    let started = Instant::now();
    let records: Vec<Record> = log
        .read(1, u64::MAX)
        .await
        .expect("read")
        .map(|r| r.expect("record"))
        .collect()
        .await;
    let read = started.elapsed();
    assert_eq!(records.len() as u64, n, "read returned every record");

    // Decoding and applying only, from memory.
    let started = Instant::now();
    let mut fold = Fold::default();
    for r in &records {
        fold.record(r).expect("a valid envelope");
    }
    let decode = started.elapsed();
    let subjects = fold.subject_seqs.len();
    let bytes: usize = records.iter().map(|r| r.data.len()).sum();
    drop(records);

    // The real thing, as boot and `mkube replay` run it.
    let mut runs = Vec::new();
    for run in 0..p.runs {
        let (took, folded) = timed_fold(log).await;
        assert_eq!(folded, n, "the fold saw every record");
        eprintln!(
            "eventlog: fold_log run {}: {n} events in {} ({} events/s)",
            run + 1,
            ms(took),
            rate(n, took)
        );
        runs.push(took);
    }
    runs.sort();
    let best = runs[0];
    let median = runs[runs.len() / 2];
    let best_rate = n as f64 / best.as_secs_f64();
    table.row(
        format!(
            "Replay: `log.read` only, {n} events ({subjects} subjects, avg {} B)",
            bytes / n.max(1) as usize
        ),
        format!("{} events/s", rate(n, read)),
        "",
        None,
    );
    table.row(
        "Replay: decode + apply only (in memory)",
        format!("{} events/s", rate(n, decode)),
        "",
        None,
    );
    table.row(
        format!(
            "Replay: `fold_log`, {n} events (best / median of {})",
            p.runs
        ),
        format!(
            "{} / {} events/s ({} / {})",
            rate(n, best),
            rate(n, median),
            ms(best),
            ms(median)
        ),
        "≥ 100k events/s",
        Some(best_rate >= REPLAY_TARGET),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Boot

/// One boot case as a table row: the median run, the slowest, and what the process logged.
fn report(label: &str, mut runs: Vec<BootRun>, target: bool, table: &mut Table) {
    let (median, worst) = median_and_worst(&mut runs);
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let value = format!(
        "{} (max {}); in process: `BOOT: replay complete` at {} ms, replay {} ms, {} events folded",
        ms(median.ready),
        ms(worst),
        opt(median.replay_total_ms),
        opt(median.replay_ms),
        opt(median.replayed),
    );
    let (goal, met) = if target {
        ("≤ 1 s", Some(worst <= BOOT_TARGET))
    } else {
        ("", None)
    };
    let how = match runs.len() {
        1 => "1 run".to_string(),
        n => format!("median of {n}"),
    };
    table.row(format!("Boot to ready: {label} ({how})"), value, goal, met);
    let shutdown = runs.iter().map(|r| r.shutdown).max().unwrap_or_default();
    let last = runs.iter().max_by_key(|r| r.final_snapshot);
    eprintln!(
        "eventlog: {label}: slowest SIGTERM-to-exit {}; final snapshot at {}, {} bytes",
        ms(shutdown),
        opt(last.and_then(|r| r.final_snapshot)),
        opt(last.and_then(|r| r.snapshot_bytes)),
    );
}
