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

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mkube::actors::Fold;
use mkube::actors::replay::{Visit, fold_log};
use mkube::events::catalogue::{DnsEvent, IpamEvent, LifecycleEvent, PodSource, PodsEvent};
use mkube::events::catalogue::{Event, VethsEvent};
use mkube::events::log::{EventLog, LogSettings};
use mkube::events::snapshot::SnapshotStore;
use mkube::events::{Envelope, Record, subject};
use mkube::metrics::Metrics;
use nats::{NatsServer, free_port};
use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node (and stream) the replay and boot cases use, as the binary sees them.
const NODE: &str = "bench-node";
const STREAM: &str = "MKUBE_EVENTS";
/// The append cases write to their own stream, so the replayed log holds exactly the fill.
const APPEND_NODE: &str = "bench-append";
const APPEND_STREAM: &str = "BENCH_APPEND";
/// Publishes in flight while filling.
const FILL_WINDOW: usize = 1024;
const REPLAY_TARGET: f64 = 100_000.0;
const BOOT_TARGET: Duration = Duration::from_secs(1);

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

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
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("eventlog: benchmarks run under `cargo bench --bench eventlog`; skipping");
        return;
    }
    mkube::tls::ensure_ring_provider();
    let params = Params::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let table = runtime.block_on(run(&params));
    eprintln!("eventlog: done in {:.1} s", started.elapsed().as_secs_f64());
    println!("{}", table.markdown());
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
    let mut workload = Workload::new(p.pods);
    eprintln!("eventlog: filling {} events", p.events);
    let fill = workload.fill(&log, p.events).await;
    table.row(
        format!(
            "Fill: pipelined publishes ({FILL_WINDOW} in flight), {} events",
            p.events
        ),
        format!("{} events/s", rate(p.events, fill)),
        "",
        None,
    );
    bench_replay(&log, p, &mut table).await;

    // 3. Boot the binary.
    let dir = tempfile::tempdir().expect("temp dir");
    let boots = Booter::new(dir.path(), &url);
    let n = p.events;
    boots
        .no_snapshot(
            &log,
            p.runs,
            &format!("{n} events, no snapshot"),
            &mut table,
        )
        .await;
    boots
        .with_snapshot(
            p.runs,
            &format!("{n} events, snapshot at the end"),
            &mut table,
        )
        .await;
    if p.tail {
        eprintln!("eventlog: appending {n} more events");
        workload.fill(&log, n).await;
        let snap = boots.latest_snapshot_seq(&log).await;
        boots
            .with_snapshot(
                1,
                &format!("{} events, snapshot at {snap} (tail {n})", 2 * n),
                &mut table,
            )
            .await;
        boots
            .with_snapshot(
                p.runs,
                &format!("{} events, snapshot at the end", 2 * n),
                &mut table,
            )
            .await;
    }
    table
}

async fn connect(url: &str, node: &str, stream: &str) -> EventLog {
    let settings = LogSettings {
        url: url.to_string(),
        stream: stream.to_string(),
        node: node.to_string(),
        replicas: 1,
    };
    let log = EventLog::connect(settings, Metrics::new())
        .await
        .expect("connect to the event log");
    log.wait_ready().await;
    log
}

// ---------------------------------------------------------------------------------------------
// Events

fn pod(ns: &str, name: &str, generation: u64) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            labels: Some(BTreeMap::from([("app".to_string(), name.to_string())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(format!("127.0.0.1:5000/web:v{generation}")),
                ports: Some(vec![ContainerPort {
                    container_port: 8080,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A log as a node writes it: pods going round their life (declare, address, veth, unit,
/// container, DNS, update, then everything torn down again), all pods one phase at a time.
/// Subjects: one per pod, veth and unit, plus the network's ipam and the zone's dns subject.
struct Workload {
    pods: u64,
    /// Events generated so far (the next event's index).
    next: u64,
    /// The stream's last sequence and each subject's, as this workload wrote them.
    last_seq: u64,
    subject_seqs: HashMap<String, u64>,
}

const PHASES: u64 = 14;

impl Workload {
    fn new(pods: u64) -> Workload {
        Workload {
            pods,
            next: 0,
            last_seq: 0,
            subject_seqs: HashMap::new(),
        }
    }

    fn event(&self, k: u64) -> Event {
        let i = k % self.pods;
        let round = k / self.pods;
        let generation = round / PHASES;
        let s = |x: &str| x.to_string();
        let ns = s("default");
        let name = format!("web-{i}");
        let veth = format!("veth_default_web-{i}_0");
        let unit = format!("default_web-{i}_web");
        let ip = Ipv4Addr::new(127, 77, 0, 10 + i as u8);
        match round % PHASES {
            0 => PodsEvent::PodDeclared {
                namespace: ns.clone(),
                name: name.clone(),
                source: PodSource::Api,
                pod: Box::new(pod(&ns, &name, generation)),
            }
            .into(),
            1 => IpamEvent::IpAllocated {
                network: s("t"),
                key: veth,
                ip,
                hostname: format!("{name}.t.lo"),
                is_static: false,
            }
            .into(),
            2 => VethsEvent::VethCreated {
                name: veth,
                network: s("t"),
                address: format!("{ip}/24"),
                gateway: s("127.77.0.1"),
                bridge: s("t"),
            }
            .into(),
            3 => LifecycleEvent::UnitRegistered {
                unit,
                pod: format!("{ns}/{name}"),
                restart_policy: s("Always"),
                start_on_boot: true,
                priority: 10,
                depends_on: vec![],
            }
            .into(),
            4 => PodsEvent::ContainerCreated {
                namespace: ns,
                name,
                container: s("web"),
                device_name: unit,
                device_id: format!("*{:X}", k),
                adopted: false,
            }
            .into(),
            5 => PodsEvent::ContainerStarted {
                namespace: ns,
                name,
                container: s("web"),
            }
            .into(),
            6 => DnsEvent::RecordRegistered {
                zone: s("t.lo"),
                name,
                ip,
                record_id: format!("r{k}"),
                ttl: 60,
            }
            .into(),
            7 => PodsEvent::PodUpdated {
                namespace: ns.clone(),
                name: name.clone(),
                pod: Box::new(pod(&ns, &name, generation + 1)),
            }
            .into(),
            8 => PodsEvent::ContainerRemoved {
                namespace: ns,
                name,
                container: s("web"),
            }
            .into(),
            9 => VethsEvent::VethRemoved { name: veth }.into(),
            10 => IpamEvent::IpReleased {
                network: s("t"),
                key: veth,
            }
            .into(),
            11 => DnsEvent::RecordDeregistered {
                zone: s("t.lo"),
                name,
                ip,
            }
            .into(),
            12 => LifecycleEvent::UnitUnregistered { unit }.into(),
            _ => PodsEvent::PodDeleted {
                namespace: ns,
                name,
            }
            .into(),
        }
    }

    /// Appends `count` events as fast as the server acknowledges them: publishes pipelined,
    /// each with the headers a real append carries (message id, expected subject sequence).
    async fn fill(&mut self, log: &EventLog, count: u64) -> Duration {
        let last = log.last_sequence().await.expect("last sequence");
        if last != self.last_seq {
            // Someone else wrote (or this is a stream we did not fill): learn the subjects.
            let mut fold = Fold::default();
            fold_log(log, &mut fold, last, |_, _| Visit::Continue)
                .await
                .expect("fold");
            self.last_seq = fold.last_seq;
            self.subject_seqs = fold.subject_seqs.into_iter().collect();
        }
        let js = log.jetstream();
        let started = Instant::now();
        let mut in_flight = FuturesOrdered::new();
        for _ in 0..count {
            let event = self.event(self.next);
            let subject = subject::for_event(NODE, &event);
            let corr = format!("fill-{}", self.next);
            self.next += 1;
            let data = Bytes::from(Envelope::new(NODE, "bench", &corr, event).encode());
            let expected = self.subject_seqs.get(&subject).copied().unwrap_or(0);
            self.last_seq += 1;
            let seq = self.last_seq;
            self.subject_seqs.insert(subject.clone(), seq);
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", uuid::Uuid::new_v4().to_string().as_str());
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                expected.to_string().as_str(),
            );
            let ack = js
                .publish_with_headers(subject, headers, data)
                .await
                .expect("publish");
            in_flight.push_back(async move { (seq, ack.into_future().await) });
            if in_flight.len() >= FILL_WINDOW {
                check_ack(in_flight.next().await);
            }
        }
        while let Some(done) = in_flight.next().await {
            check_ack(Some(done));
        }
        started.elapsed()
    }
}

fn check_ack(
    done: Option<(
        u64,
        Result<async_nats::jetstream::publish::PublishAck, impl std::fmt::Display>,
    )>,
) {
    let (seq, ack) = done.expect("an ack in flight");
    let ack = ack.unwrap_or_else(|e| panic!("publish of sequence {seq} failed: {e}"));
    assert_eq!(
        ack.sequence, seq,
        "the stream was written to during the fill"
    );
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

/// Pod `slot` declared (again), or an address allocated in network `t`: alternately.
fn append_event(slot: u64, i: u64) -> Event {
    let name = format!("app-{slot}");
    if i.is_multiple_of(2) {
        PodsEvent::PodDeclared {
            namespace: "bench".into(),
            name: name.clone(),
            source: PodSource::Api,
            pod: Box::new(pod("bench", &name, i)),
        }
        .into()
    } else {
        IpamEvent::IpAllocated {
            network: "t".into(),
            key: format!("veth_bench_{name}_0"),
            ip: Ipv4Addr::new(127, 77, 1, (slot % 250) as u8 + 2),
            hostname: format!("{name}.t.lo"),
            is_static: false,
        }
        .into()
    }
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

/// One durable append as an actor makes it; returns how long the append took.
async fn append_one(log: &EventLog, seqs: &mut HashMap<String, u64>, event: &Event) -> Duration {
    let subject = subject::for_event(APPEND_NODE, event);
    let expected = seqs.get(&subject).copied().unwrap_or(0);
    let corr = uuid::Uuid::new_v4().to_string();
    let data = Bytes::from(Envelope::new(APPEND_NODE, "bench", &corr, event.clone()).encode());
    let msg_id = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let appended = log
        .append(&subject, &msg_id, expected, data)
        .await
        .unwrap_or_else(|e| panic!("append on {subject}: {e}"));
    let took = started.elapsed();
    assert!(!appended.duplicate);
    seqs.insert(subject, appended.seq);
    took
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
        let mut fold = Fold::default();
        let started = Instant::now();
        fold_log(log, &mut fold, u64::MAX, |_, _| Visit::Continue)
            .await
            .expect("fold_log");
        let took = started.elapsed();
        assert_eq!(fold.folded, n);
        assert!(fold.undecodable.is_empty());
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

struct Booter {
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    http: reqwest::Client,
}

#[derive(Default)]
struct BootRun {
    ready: Duration,
    /// From the process's own `BOOT: replay complete` line.
    replay_total_ms: Option<u64>,
    replay_ms: Option<u64>,
    replayed: Option<u64>,
    snapshot_seq: Option<u64>,
    shutdown: Duration,
    final_snapshot: Option<u64>,
    /// Size of the snapshot the clean shutdown wrote.
    snapshot_bytes: Option<u64>,
}

impl Booter {
    fn new(dir: &Path, nats_url: &str) -> Booter {
        let port = free_port();
        let config = dir.join("config.yaml");
        let text = format!(
            "nodeName: {NODE}\nstandalone: true\nrouteros:\n  restUrl: http://127.0.0.1:9/rest\nnetworks:\n  - name: t\n    bridge: t\n    cidr: 127.77.0.0/24\n    gateway: 127.77.0.1\n    dns:\n      endpoint: http://127.0.0.1:9\n      zone: t.lo\n      server: 127.77.0.252\n      staticRecords: []\nnats:\n  url: {nats_url}\n  stream: {STREAM}\n  snapshotEvery: 1000\napi:\n  listen: 127.0.0.1:{port}\nlifecycle:\n  bootManifestPath: \"\"\n"
        );
        std::fs::write(&config, text).expect("write config");
        Booter {
            dir: dir.to_path_buf(),
            config,
            port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
        }
    }

    /// Boots with the snapshot bucket emptied before every run.
    async fn no_snapshot(&self, log: &EventLog, runs: u64, label: &str, table: &mut Table) {
        let mut results = Vec::new();
        for _ in 0..runs {
            self.delete_snapshot(log).await;
            results.push(self.boot(label).await);
        }
        self.report(label, results, false, table);
    }

    /// Boots from whatever snapshot the previous clean shutdown left.
    async fn with_snapshot(&self, runs: u64, label: &str, table: &mut Table) {
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(self.boot(label).await);
        }
        self.report(label, results, true, table);
    }

    fn report(&self, label: &str, mut runs: Vec<BootRun>, target: bool, table: &mut Table) {
        runs.sort_by_key(|r| r.ready);
        let median = &runs[runs.len() / 2];
        let worst = runs.last().expect("a run").ready;
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

    /// One boot: spawn, poll `/readyz` every 5 ms, then SIGTERM (which writes a snapshot).
    async fn boot(&self, label: &str) -> BootRun {
        let log_path = self.dir.join("mkube.log");
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mkube"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env("MKUBE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).expect("log file"))
            .spawn()
            .expect("spawn mkube");
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Ok(r) = self.http.get(&url).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                break;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!(
                    "mkube never got ready; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ready = started.elapsed();
        let stopping = Instant::now();
        terminate(&mut child);
        let shutdown = stopping.elapsed();
        let lines = log_lines(&log_path);
        let field = |message: &str, name: &str| {
            lines
                .iter()
                .find(|(m, _)| m == message)
                .and_then(|(_, fields)| fields.get(name))
                .and_then(|v| v.as_u64())
        };
        let run = BootRun {
            ready,
            replay_total_ms: field("BOOT: replay complete", "total_ms"),
            replay_ms: field("replay complete", "ms"),
            replayed: field("replay complete", "events"),
            snapshot_seq: field("replayed from snapshot", "snapshot_seq"),
            shutdown,
            final_snapshot: field("final snapshot written", "seq"),
            snapshot_bytes: field("snapshot written", "bytes"),
        };
        eprintln!(
            "eventlog: boot ({label}): ready in {}, replay {:?} ms of {:?} events, snapshot {:?}; final snapshot {:?}",
            ms(ready),
            run.replay_ms,
            run.replayed,
            run.snapshot_seq,
            run.final_snapshot
        );
        assert!(
            run.final_snapshot.is_some(),
            "mkube wrote no final snapshot; log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        run
    }

    async fn delete_snapshot(&self, log: &EventLog) {
        let bucket = SnapshotStore::bucket_name(STREAM);
        if let Ok(store) = log.jetstream().get_object_store(&bucket).await {
            let _ = store.delete(SnapshotStore::object_name(NODE)).await;
        }
    }

    async fn latest_snapshot_seq(&self, log: &EventLog) -> u64 {
        let store = SnapshotStore::open(log).await.expect("snapshot store");
        store
            .load::<mkube::actors::ClusterState>()
            .await
            .expect("load snapshot")
            .map_or(0, |s| s.last_seq)
    }
}

/// SIGTERM, as a supervisor stops it; waits for the exit.
fn terminate(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mkube did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The JSON log lines as (message, fields).
fn log_lines(path: &Path) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| match v.get("fields") {
            Some(serde_json::Value::Object(fields)) => Some(fields.clone()),
            _ => None,
        })
        .map(|fields| {
            let message = fields
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_string();
            (message, fields)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reporting

struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut samples: Vec<Duration>) -> Latencies {
        samples.sort();
        Latencies(samples)
    }

    /// Nearest-rank percentile.
    fn pct(&self, p: f64) -> Duration {
        let n = self.0.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn rate(n: u64, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64().max(1e-9);
    // Thousands separated by commas, for reading at a glance.
    let digits = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    fn row(
        &mut self,
        what: impl Into<String>,
        value: impl Into<String>,
        target: &str,
        met: Option<bool>,
    ) {
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        self.rows.push([
            what.into(),
            value.into(),
            target.to_string(),
            met.to_string(),
        ]);
    }

    fn markdown(&self) -> String {
        let mut out = String::from("| Measurement | Result | Target | Met |\n|---|---|---|---|\n");
        for [a, b, c, d] in &self.rows {
            out.push_str(&format!("| {a} | {b} | {c} | {d} |\n"));
        }
        out
    }
}
