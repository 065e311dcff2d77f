//! `cargo bench --bench fleet`: mkube's event log and fleet API on one nats-server (R1) and on
//! a three-server JetStream cluster (R3, streams with three replicas), in the same run, both
//! with `sync_interval: always`, everything on loopback (issue 16).
//!
//! 1. Append latency (p50/p99) of sequential appends through `EventLog::append`.
//! 2. The stream layout: one node's (`rack-a`) events replayed (`fold_log`) and the release
//!    `mkube` binary booted to ready (no snapshot, then from the snapshot its clean shutdown
//!    wrote) with those events (c) in a shared stream whose two other nodes wrote as many
//!    events each, interleaved with them, (b) in that stream after the other nodes' events
//!    were purged, (a) in a stream of its own.
//! 3. The fleet pod list: three controllers (`standalone: false`, no device engine: the list
//!    is what is measured) on the same stream, each holding its pods (declared in the log
//!    before they start); `GET /api/v1/pods` on the first one, which merges the others' lists
//!    over NATS request/reply; as JSON and as a Table.
//! 4. R3 only: appends in a loop while the stream's leader is killed (SIGKILL); the gap from
//!    the kill to the first acknowledged append that started after it, and to the first
//!    refused one. The killed server is restarted and caught up between runs.
//!
//! Prints a markdown table on stdout (R1 and R3 side by side), progress on stderr. Scale with
//! environment variables: `MKUBE_BENCH_EVENTS` (the node's events, 100000),
//! `MKUBE_BENCH_OTHER_EVENTS` (each other node's events in case (c), 100000),
//! `MKUBE_BENCH_APPENDS` (sequential appends, 500), `MKUBE_BENCH_RUNS` (replays and boots
//! per case, 3), `MKUBE_BENCH_PODS` (pods per controller, 200), `MKUBE_BENCH_LISTS` (timed
//! lists per form, 200), `MKUBE_BENCH_KILLS` (leader kills, 3), `MKUBE_BENCH_PAUSE_MS` (pause
//! between appends during a kill, 20); `MKUBE_BENCH_ONLY=appends,layouts,fleet,failover`
//! picks parts. Without `--bench` it does nothing.

#[allow(dead_code)]
#[path = "../tests/suite/common/nats.rs"]
mod nats;

#[allow(dead_code)]
#[path = "../tests/suite/common/nats_cluster.rs"]
mod nats_cluster;

#[path = "support/log_bench.rs"]
mod log_bench;

#[path = "support/rig.rs"]
mod rig;

use log_bench::{
    Booter, Latencies, Table, Workload, append_event, append_one, bench_main, env_u64,
    fill_interleaved, median_and_worst, ms, rate, timed_fold,
};
use mkube::events::catalogue::{Event, PodSource, PodsEvent};
use mkube::events::log::{AppendError, EventLog};
use mkube::events::{Envelope, subject};
use nats::NatsServer;
use nats_cluster::{NatsCluster, stream_leader};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The node whose replay and boot are measured, and the two busy nodes beside it.
const NODE: &str = "rack-a";
const OTHERS: [&str; 2] = ["rack-b", "rack-c"];
const SHARED_STREAM: &str = "BENCH_SHARED";
const OWN_STREAM: &str = "BENCH_OWN";
const APPEND_STREAM: &str = "BENCH_APPEND";
const APPEND_NODE: &str = "bench-append";
const FLEET_STREAM: &str = "MKUBE_EVENTS";
/// Pods per node in the replayed workload (as the eventlog bench fills it).
const WORKLOAD_PODS: u64 = 200;
const BOOT_TARGET: Duration = Duration::from_secs(1);
const LIST_TARGET: Duration = Duration::from_millis(50);
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
/// nats-server's raft timers, from server/raft.go (nats-io/nats-server):
/// `minElectionTimeoutDefault` 4 s, `maxElectionTimeoutDefault` 9 s, `hbIntervalDefault` 1 s.
const ELECTION_TIMEOUT: &str = "4–9 s (random), heartbeat 1 s";

struct Params {
    events: u64,
    other_events: u64,
    appends: u64,
    runs: u64,
    pods: u64,
    lists: u64,
    kills: u64,
    pause: Duration,
    only: Option<String>,
}

impl Params {
    fn from_env() -> Params {
        Params {
            events: env_u64("MKUBE_BENCH_EVENTS", 100_000).max(1),
            other_events: env_u64("MKUBE_BENCH_OTHER_EVENTS", 100_000),
            appends: env_u64("MKUBE_BENCH_APPENDS", 500).max(1),
            runs: env_u64("MKUBE_BENCH_RUNS", 3).max(1),
            pods: env_u64("MKUBE_BENCH_PODS", 200).clamp(1, 240),
            lists: env_u64("MKUBE_BENCH_LISTS", 200).max(1),
            kills: env_u64("MKUBE_BENCH_KILLS", 3),
            pause: Duration::from_millis(env_u64("MKUBE_BENCH_PAUSE_MS", 20)),
            only: std::env::var("MKUBE_BENCH_ONLY").ok(),
        }
    }

    fn part(&self, name: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|p| p.trim() == name))
    }
}

fn main() {
    let params = Params::from_env();
    bench_main("fleet", || run(&params));
}

async fn run(p: &Params) -> Table {
    let mut r1 = Column::default();
    {
        let server = NatsServer::start();
        eprintln!("fleet: R1, one nats-server at {}", server.url());
        measure(&server.url(), p, &mut r1).await;
    }
    let mut cluster = NatsCluster::start(3);
    cluster.wait_jetstream().await;
    let mut r3 = Column::default();
    eprintln!("fleet: R3, a cluster at {}", cluster.urls());
    measure(&cluster.urls(), p, &mut r3).await;
    if p.part("failover") && p.kills > 0 {
        measure_failover(&mut cluster, p, &mut r3).await;
    }
    side_by_side(&r1, &r3)
}

/// Parts 1 to 3 against the server(s) at `url`.
async fn measure(url: &str, p: &Params, col: &mut Column) {
    if p.part("appends") {
        measure_appends(url, p, col).await;
    }
    if p.part("layouts") {
        measure_layouts(url, p, col).await;
    }
    if p.part("fleet") {
        measure_fleet(url, p, col).await;
    }
}

/// A writer's handle, once its stream has a leader: on a cluster, the stream exists before
/// its group has elected one, and an append in between is refused ("no stream found").
async fn connect(url: &str, node: &str, stream: &str) -> EventLog {
    let log = log_bench::connect(url, node, stream).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut s) = log.jetstream().get_stream(stream).await
            && let Ok(info) = s.info().await
            && info.cluster.as_ref().is_none_or(|c| c.leader.is_some())
        {
            return log;
        }
        assert!(Instant::now() < deadline, "stream {stream} has no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Appends

async fn measure_appends(url: &str, p: &Params, col: &mut Column) {
    let log = connect(url, APPEND_NODE, APPEND_STREAM).await;
    let mut seqs = HashMap::new();
    // Warm up the connection and the stream's files.
    for i in 0..50 {
        append_one(&log, &mut seqs, &append_event(i % 8, i)).await;
    }
    eprintln!("fleet: {} sequential appends", p.appends);
    let mut latencies = Vec::with_capacity(p.appends as usize);
    let started = Instant::now();
    for i in 0..p.appends {
        latencies.push(append_one(&log, &mut seqs, &append_event(i % 32, i)).await);
    }
    let elapsed = started.elapsed();
    let l = Latencies::new(latencies);
    col.add(
        format!("Append latency, sequential ({} appends)", p.appends),
        format!("p50 {}, p99 {}", ms(l.pct(50.0)), ms(l.pct(99.0))),
        "",
        None,
    );
    col.add(
        "Append throughput, sequential",
        format!("{} events/s", rate(p.appends, elapsed)),
        "",
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Stream layout: replay and boot of one node

async fn measure_layouts(url: &str, p: &Params, col: &mut Column) {
    let (n, m) = (p.events, p.other_events);
    let shared = connect(url, NODE, SHARED_STREAM).await;
    for other in OTHERS {
        add_subjects_of(&shared, other).await;
    }
    let mut node = Workload::new(NODE, "web", WORKLOAD_PODS);
    let mut b = Workload::new(OTHERS[0], "web", WORKLOAD_PODS);
    let mut c = Workload::new(OTHERS[1], "web", WORKLOAD_PODS);
    eprintln!("fleet: filling the shared stream: {n} + 2 × {m} events, interleaved");
    let took = fill_interleaved(&shared, &mut [(&mut node, n), (&mut b, m), (&mut c, m)]).await;
    col.add(
        format!(
            "Fill: pipelined publishes ({} in flight), {} events",
            log_bench::FILL_WINDOW,
            n + 2 * m
        ),
        format!("{} events/s", rate(n + 2 * m, took)),
        "",
        None,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let booter = Booter::new(dir.path(), url, NODE, SHARED_STREAM);
    let busy = format!("(c) shared stream, 2 other nodes × {m} events interleaved");
    measure_case(&shared, &booter, &busy, p, col).await;

    eprintln!("fleet: purging the other nodes' events");
    purge_others(&shared).await;
    let idle = "(b) shared stream, the other nodes' events purged";
    measure_case(&shared, &booter, idle, p, col).await;
    // Streams may not overlap: the node's subjects can have a stream of their own only once
    // the shared one is gone (and the fleet's stream only once that one is).
    delete_stream(&shared, SHARED_STREAM).await;

    let own = connect(url, NODE, OWN_STREAM).await;
    eprintln!("fleet: filling a stream of the node's own: {n} events");
    Workload::new(NODE, "web", WORKLOAD_PODS)
        .fill(&own, n)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let booter = Booter::new(dir.path(), url, NODE, OWN_STREAM);
    measure_case(&own, &booter, "(a) a stream of its own", p, col).await;
    delete_stream(&own, OWN_STREAM).await;
}

async fn delete_stream(log: &EventLog, name: &str) {
    log.jetstream()
        .delete_stream(name)
        .await
        .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
}

/// Adds `node`'s subjects to the log's stream, retrying as `wait_ready` does: on a cluster,
/// the update right after the stream's creation can time out while its group settles.
async fn add_subjects_of(log: &EventLog, node: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Err(e) = log.ensure_stream_for(node).await {
        assert!(Instant::now() < deadline, "adding {node}'s subjects: {e}");
        eprintln!("fleet: adding {node}'s subjects: {e}; retrying");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn purge_others(log: &EventLog) {
    let stream = log
        .jetstream()
        .get_stream(SHARED_STREAM)
        .await
        .expect("shared stream");
    for other in OTHERS {
        stream
            .purge()
            .filter(subject::stream_filter(other))
            .await
            .expect("purge");
    }
}

/// Replays and boots of the node for one layout.
async fn measure_case(log: &EventLog, booter: &Booter, case: &str, p: &Params, col: &mut Column) {
    let mut folds = Vec::new();
    let mut events = 0;
    for _ in 0..p.runs {
        let (took, folded) = timed_fold(log).await;
        events = folded;
        folds.push(took);
    }
    folds.sort();
    let (best, median) = (folds[0], folds[folds.len() / 2]);
    eprintln!("fleet: {case}: fold_log of {events} events in {}", ms(best));
    col.add(
        format!(
            "Replay `fold_log` of {NODE}'s events (best / median of {}): {case}",
            p.runs
        ),
        format!(
            "{} / {} events/s ({} events)",
            rate(events, best),
            rate(events, median),
            events
        ),
        "",
        None,
    );
    let no_snapshot = booter.no_snapshot_runs(log, p.runs).await;
    add_boots(col, &format!("no snapshot: {case}"), no_snapshot);
    let snapshot = booter.snapshot_runs(p.runs).await;
    add_boots(col, &format!("snapshot: {case}"), snapshot);
}

fn add_boots(col: &mut Column, label: &str, mut runs: Vec<log_bench::BootRun>) {
    let count = runs.len();
    let (median, worst) = median_and_worst(&mut runs);
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    col.add(
        format!("Boot to ready (median of {count}), {label}"),
        format!(
            "{} (max {}); replay {} ms, {} events",
            ms(median.ready),
            ms(worst),
            opt(median.replay_ms),
            opt(median.replayed)
        ),
        "≤ 1 s",
        Some(worst <= BOOT_TARGET),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Fleet pod list

async fn measure_fleet(url: &str, p: &Params, col: &mut Column) {
    let nodes = [NODE, OTHERS[0], OTHERS[1]];
    for node in nodes {
        let log = connect(url, node, FLEET_STREAM).await;
        // The first `pods` events of a workload declare its pods, once each.
        Workload::new(node, &format!("{node}-web"), p.pods)
            .fill(&log, p.pods)
            .await;
    }
    eprintln!("fleet: three controllers, {} pods each", p.pods);
    let mut controllers = Vec::new();
    for node in nodes {
        controllers.push(rig::Mkube::start(|listen| fleet_config(node, url, listen)).await);
    }
    let http = reqwest::Client::new();
    let list_url = format!("{}/api/v1/pods", controllers[0].base);
    let expected = 3 * p.pods;
    wait_for_fleet(&http, &list_url, expected).await;
    for (form, accept, key) in [
        ("JSON", "application/json", "items"),
        ("Table", TABLE_ACCEPT, "rows"),
    ] {
        let lists = timed_lists(&http, &list_url, accept, key, p.lists, expected).await;
        eprintln!(
            "fleet: {form} list p50 {}, p99 {}",
            ms(lists.latencies.pct(50.0)),
            ms(lists.latencies.pct(99.0))
        );
        col.add(
            format!(
                "Fleet pod list, 3 × {} pods, {form} ({} lists)",
                p.pods, p.lists
            ),
            format!(
                "p50 {}, p99 {}, max {}; {} of {} lists short of {expected}",
                ms(lists.latencies.pct(50.0)),
                ms(lists.latencies.pct(99.0)),
                ms(lists.latencies.max()),
                lists.short,
                p.lists
            ),
            "p99 ≤ 50 ms",
            Some(lists.latencies.pct(99.0) <= LIST_TARGET),
        );
    }
    for c in &mut controllers {
        c.terminate();
    }
}

/// Three controllers on one stream, each with its own API port; no device engine.
fn fleet_config(node: &str, nats: &str, listen: &str) -> String {
    format!(
        r#"nodeName: {node}
standalone: false
routeros: {{restUrl: "http://127.0.0.1:9/rest"}}
networks:
  - name: t
    bridge: t
    cidr: 127.77.0.0/24
    gateway: 127.77.0.1
    dns: {{endpoint: "http://127.0.0.1:9", zone: t.lo, server: 127.77.0.252, staticRecords: []}}
nats: {{url: "{nats}", stream: {FLEET_STREAM}, snapshotEvery: 1000}}
api: {{listen: "{listen}"}}
lifecycle: {{bootManifestPath: ""}}
consistency: {{repair: false}}
update: {{listen: ""}}
"#
    )
}

/// Waits until the list holds every node's pods (the other controllers' heartbeats read).
async fn wait_for_fleet(http: &reqwest::Client, url: &str, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (count, _) = list_once(http, url, "application/json", "items").await;
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the fleet list never held {expected} pods (last {count})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Lists {
    latencies: Latencies,
    /// Lists that held fewer than every pod (a node not answering in time).
    short: u64,
}

async fn timed_lists(
    http: &reqwest::Client,
    url: &str,
    accept: &str,
    key: &str,
    n: u64,
    expected: u64,
) -> Lists {
    for _ in 0..10 {
        list_once(http, url, accept, key).await;
    }
    let mut samples = Vec::with_capacity(n as usize);
    let mut short = 0;
    for i in 0..n {
        let started = Instant::now();
        let (count, warning) = list_once(http, url, accept, key).await;
        samples.push(started.elapsed());
        if count < expected {
            eprintln!("fleet: list {i} short: {count} {key}; warning {warning:?}");
        }
        assert!(
            count <= expected,
            "list {i} holds {count} {key}, more than the {expected} pods declared"
        );
        if i == 0 {
            assert_eq!(count, expected, "the fleet list holds every node's pods");
        }
        short += u64::from(count < expected);
    }
    Lists {
        latencies: Latencies::new(samples),
        short,
    }
}

/// One list: the number of `key` entries (items or rows) and the Warning header, if any.
async fn list_once(
    http: &reqwest::Client,
    url: &str,
    accept: &str,
    key: &str,
) -> (u64, Option<String>) {
    let resp = http
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .expect("GET pods");
    assert!(resp.status().is_success(), "list: {}", resp.status());
    let warning = resp
        .headers()
        .get("warning")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = resp.json().await.expect("a JSON list");
    let count = body[key].as_array().map_or(0, |a| a.len() as u64);
    (count, warning)
}

// ---------------------------------------------------------------------------------------------
// 4. Writes across a leader kill (R3)

/// One append in the loop: when it started and ended, and whether it was acknowledged.
struct Attempt {
    started: Instant,
    ended: Instant,
    error: Option<String>,
}

struct Failover {
    /// From the kill to the ack of the first append that started after it.
    resumed: Duration,
    /// From the kill to the first refused append, and why it was refused.
    first_refused: Option<(Duration, String)>,
    refused: usize,
    /// The longest single append that ended after the kill (one waiting out an ack).
    longest: Duration,
    /// The killed server restarted until it was a current replica again.
    caught_up: Duration,
}

async fn measure_failover(cluster: &mut NatsCluster, p: &Params, col: &mut Column) {
    let log = connect(&cluster.urls(), "bench-failover", APPEND_STREAM).await;
    let mut runs = Vec::new();
    for run in 0..p.kills {
        let leader = leader_index(cluster).await;
        eprintln!(
            "fleet: kill {}: the stream leader is {}",
            run + 1,
            cluster.servers[leader].name
        );
        let mut outcome = appends_across_kill(&log, cluster, leader, run, p.pause).await;
        let restarted = Instant::now();
        cluster.restart(leader);
        wait_caught_up(&log, cluster).await;
        outcome.caught_up = restarted.elapsed();
        eprintln!(
            "fleet: kill {}: writes resumed after {} (longest append {}), first refused {:?}, {} refused; caught up in {}",
            run + 1,
            ms(outcome.resumed),
            ms(outcome.longest),
            outcome.first_refused.as_ref().map(|(d, e)| (ms(*d), e)),
            outcome.refused,
            ms(outcome.caught_up)
        );
        runs.push(outcome);
    }
    let gaps: Vec<String> = runs.iter().map(|r| ms(r.resumed)).collect();
    let longest: Vec<String> = runs.iter().map(|r| ms(r.longest)).collect();
    let refused: Vec<String> = runs
        .iter()
        .map(|r| match &r.first_refused {
            Some((d, why)) => format!("{} ({why})", ms(*d)),
            None => "none".to_string(),
        })
        .collect();
    col.add(
        format!(
            "Writes resume after the stream leader is killed ({} kills, an append every {} ms)",
            p.kills,
            p.pause.as_millis()
        ),
        format!(
            "gap {} (kill → first ack); longest append {}; election timeout {ELECTION_TIMEOUT}; mkube's ack timeout 5 s",
            gaps.join(", "),
            longest.join(", ")
        ),
        "",
        None,
    );
    col.add(
        "First refused append after the kill",
        format!(
            "{}; refused in all: {}",
            refused.join(", "),
            runs.iter()
                .map(|r| r.refused.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "",
        None,
    );
    col.add(
        "Killed server restarted until a current replica again",
        runs.iter()
            .map(|r| ms(r.caught_up))
            .collect::<Vec<_>>()
            .join(", "),
        "",
        None,
    );
}

/// The cluster index of the stream's leader, asked through any server.
async fn leader_index(cluster: &NatsCluster) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for i in 0..cluster.servers.len() {
            if let Some((leader, _)) = stream_leader(&cluster.url(i), APPEND_STREAM).await {
                return cluster.index_of(&leader);
            }
        }
        assert!(Instant::now() < deadline, "the stream has no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Appends in a loop, kills server `leader` after a steady second, and stops once an append
/// that started after the kill was acknowledged (or after a minute).
async fn appends_across_kill(
    log: &EventLog,
    cluster: &mut NatsCluster,
    leader: usize,
    run: u64,
    pause: Duration,
) -> Failover {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let kill_at = Arc::new(Mutex::new(None::<Instant>));
    let appender = tokio::spawn(append_until_resumed(
        log.clone(),
        attempts.clone(),
        kill_at.clone(),
        run,
        pause,
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    *kill_at.lock().unwrap() = Some(killed);
    tokio::task::block_in_place(|| cluster.kill(leader));
    appender.await.expect("appender");
    let attempts = attempts.lock().unwrap();
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.started >= killed).collect();
    let resumed = after
        .iter()
        .find(|a| a.error.is_none())
        .map(|a| a.ended - killed)
        .expect("writes never resumed within a minute");
    let refused: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.ended >= killed && a.error.is_some())
        .collect();
    let first_refused = refused
        .first()
        .map(|a| (a.ended - killed, a.error.clone().unwrap_or_default()));
    let longest = attempts
        .iter()
        .filter(|a| a.ended >= killed)
        .map(|a| a.ended - a.started)
        .max()
        .unwrap_or_default();
    Failover {
        resumed,
        first_refused,
        refused: refused.len(),
        longest,
        caught_up: Duration::ZERO,
    }
}

/// The appender: one new pod declared per append (its own subject, so no append can conflict
/// with an earlier one whose ack was lost), a pause between appends.
async fn append_until_resumed(
    log: EventLog,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    kill_at: Arc<Mutex<Option<Instant>>>,
    run: u64,
    pause: Duration,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0.. {
        let started = Instant::now();
        let result = append_new_pod(&log, &format!("f{run}-{i}")).await;
        let ended = Instant::now();
        let resumed = result.is_ok() && kill_at.lock().unwrap().is_some_and(|k| started >= k);
        attempts.lock().unwrap().push(Attempt {
            started,
            ended,
            error: result.err().map(|e| short_error(&e)),
        });
        if resumed || ended > deadline {
            return;
        }
        tokio::time::sleep(pause).await;
    }
}

async fn append_new_pod(log: &EventLog, name: &str) -> Result<(), AppendError> {
    let event: Event = PodsEvent::PodDeclared {
        namespace: "bench".into(),
        name: name.to_string(),
        source: PodSource::Api,
        pod: Box::new(log_bench::pod("bench", name, 0)),
    }
    .into();
    let subject = subject::for_event(log.node(), &event);
    let corr = uuid::Uuid::new_v4().to_string();
    let data = Envelope::new(log.node(), "bench", &corr, event).encode();
    let msg_id = uuid::Uuid::new_v4().to_string();
    log.append(&subject, &msg_id, 0, data.into())
        .await
        .map(|_| ())
}

/// The refusal's text, cut to 60 characters to keep the table's cell short.
fn short_error(e: &AppendError) -> String {
    let text = e.to_string();
    text.chars().take(60).collect()
}

/// Waits until the stream has a leader and every other replica is current and online.
async fn wait_caught_up(log: &EventLog, cluster: &NatsCluster) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let js = log.jetstream();
    loop {
        if let Ok(mut stream) = js.get_stream(APPEND_STREAM).await
            && let Ok(info) = stream.info().await
            && let Some(c) = &info.cluster
            && c.leader.is_some()
            && c.replicas.len() == cluster.servers.len() - 1
            && c.replicas.iter().all(|r| r.current && !r.offline)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted server never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting: one column per setup, then side by side

struct Cell {
    what: String,
    value: String,
    goal: &'static str,
    met: Option<bool>,
}

#[derive(Default)]
struct Column {
    cells: Vec<Cell>,
}

impl Column {
    fn add(
        &mut self,
        what: impl Into<String>,
        value: impl Into<String>,
        goal: &'static str,
        met: Option<bool>,
    ) {
        self.cells.push(Cell {
            what: what.into(),
            value: value.into(),
            goal,
            met,
        });
    }

    fn get(&self, what: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.what == what)
    }
}

/// Rows in the order they were measured; a row only one setup has shows "—" for the other.
fn side_by_side(r1: &Column, r3: &Column) -> Table {
    let mut table = Table::with_header(&["Measurement", "R1", "R3", "Goal", "Met (R1 / R3)"]);
    let mut seen = Vec::new();
    for cell in r1.cells.iter().chain(&r3.cells) {
        if seen.contains(&cell.what) {
            continue;
        }
        seen.push(cell.what.clone());
        let (a, b) = (r1.get(&cell.what), r3.get(&cell.what));
        let value = |c: Option<&Cell>| c.map_or("—".to_string(), |c| c.value.clone());
        let met = |c: Option<&Cell>| c.map_or("—", |c| log_bench::met(c.met));
        let met = match cell.met {
            Some(_) => format!("{} / {}", met(a), met(b)),
            None => String::new(),
        };
        table.cells(vec![
            cell.what.clone(),
            value(a),
            value(b),
            cell.goal.to_string(),
            met,
        ]);
    }
    table
}
