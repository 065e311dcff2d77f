//! The pieces the event-log benches share (`eventlog`, `fleet`): a log handle, a workload that
//! fills a stream with valid envelopes on their real subjects (one node's, or several nodes'
//! interleaved), one durable append as an actor makes it, timed replays, the release `mkube`
//! binary booted to ready, and the reporting helpers. Included with `#[path]`; needs
//! `crate::nats` (tests/suite/common/nats.rs).
#![allow(dead_code)]

use crate::nats::free_port;
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
use mkube::events::{Envelope, subject};
use mkube::metrics::Metrics;
use std::collections::{BTreeMap, HashMap};
use std::future::IntoFuture;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Publishes in flight while filling.
pub const FILL_WINDOW: usize = 1024;
/// How long the fill waits for one ack: far longer than an append's 5 s, because with a
/// thousand publishes in flight, each fsynced, one disk stall on a shared machine held an ack
/// past 5 s and ended the run.
const FILL_ACK_TIMEOUT: Duration = Duration::from_secs(60);

/// A number from the environment (`MKUBE_BENCH_*`), or `default`; a value that is not a
/// number stops the bench rather than being ignored.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A writer's handle for `node` on `stream`; replicas as mkube picks them (1 on one server,
/// 3 on a cluster).
pub async fn connect(url: &str, node: &str, stream: &str) -> EventLog {
    let settings = LogSettings {
        url: url.to_string(),
        stream: stream.to_string(),
        node: node.to_string(),
        replicas: 0,
    };
    let log = EventLog::connect(settings, Metrics::new())
        .await
        .expect("connect to the event log");
    log.wait_ready().await;
    log
}

// ---------------------------------------------------------------------------------------------
// Events

pub fn pod(ns: &str, name: &str, generation: u64) -> Pod {
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
/// The first `pods` events declare every pod once.
pub struct Workload {
    node: String,
    /// Pods are called `<prefix>-<i>`.
    prefix: String,
    pods: u64,
    /// Events generated so far (the next event's index).
    next: u64,
    /// The sequence of this node's last record and each of its subjects', as written here.
    last_seq: u64,
    subject_seqs: HashMap<String, u64>,
}

const PHASES: u64 = 14;

impl Workload {
    pub fn new(node: &str, prefix: &str, pods: u64) -> Workload {
        Workload {
            node: node.to_string(),
            prefix: prefix.to_string(),
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
        let name = format!("{}-{i}", self.prefix);
        let veth = format!("veth_default_{name}_0");
        let unit = format!("default_{name}_web");
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

    /// The next event as a publish: subject, headers a real append carries (message id, and
    /// when `expect` the expected subject sequence) and the encoded envelope, to be stored at
    /// `seq`.
    fn next_publish(&mut self, seq: u64, expect: bool) -> (String, HeaderMap, Bytes) {
        let event = self.event(self.next);
        let subject = subject::for_event(&self.node, &event);
        let corr = format!("fill-{}", self.next);
        self.next += 1;
        let data = Bytes::from(Envelope::new(&self.node, "bench", &corr, event).encode());
        let expected = self.subject_seqs.get(&subject).copied().unwrap_or(0);
        self.subject_seqs.insert(subject.clone(), seq);
        self.last_seq = seq;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", uuid::Uuid::new_v4().to_string().as_str());
        if expect {
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                expected.to_string().as_str(),
            );
        }
        (subject, headers, data)
    }

    /// Appends `count` events of this node as fast as the server acknowledges them.
    pub async fn fill(&mut self, log: &EventLog, count: u64) -> Duration {
        fill_interleaved(log, &mut [(self, count)]).await
    }

    /// Learns this node's subjects from the log when someone else (a booted `mkube`) wrote
    /// to them since this workload did.
    async fn catch_up(&mut self, log: &EventLog) {
        let last = log.last_sequence().await.expect("last sequence");
        if last == self.last_seq {
            return;
        }
        assert_eq!(log.node(), self.node, "catch up through the node's own log");
        let mut fold = Fold::default();
        fold_log(log, &mut fold, last, |_, _| Visit::Continue)
            .await
            .expect("fold");
        self.last_seq = fold.last_seq;
        self.subject_seqs = fold.subject_seqs.into_iter().collect();
    }
}

/// Appends `count` events of each workload to `log`'s stream, interleaved in proportion (as
/// busy nodes sharing a stream write them), publishes pipelined ([`FILL_WINDOW`] in flight);
/// every ack's sequence is checked. Nothing else may write to the stream meanwhile.
///
/// A replicated stream refuses a publish that expects a subject's last sequence while an
/// earlier one on that subject is still in flight (wrong last sequence, 10164), and the
/// workload writes runs of events on one subject: there the fill carries the message id only.
pub async fn fill_interleaved(log: &EventLog, parts: &mut [(&mut Workload, u64)]) -> Duration {
    for (w, _) in parts.iter_mut() {
        if w.node == log.node() {
            w.catch_up(log).await;
        }
    }
    let expect = log.replicas() == 1;
    let mut seq = log
        .stream_last_sequence()
        .await
        .expect("stream last sequence");
    let total: u64 = parts.iter().map(|(_, n)| n).sum();
    let mut done = vec![0u64; parts.len()];
    let mut js = async_nats::jetstream::new(log.client().clone());
    js.set_timeout(FILL_ACK_TIMEOUT);
    let started = Instant::now();
    let mut in_flight = FuturesOrdered::new();
    for _ in 0..total {
        let i = most_behind(&done, parts);
        done[i] += 1;
        seq += 1;
        let (subject, headers, data) = parts[i].0.next_publish(seq, expect);
        let ack = js
            .publish_with_headers(subject, headers, data)
            .await
            .expect("publish");
        let expected = seq;
        in_flight.push_back(async move { (expected, ack.into_future().await) });
        if in_flight.len() >= FILL_WINDOW {
            check_ack(in_flight.next().await);
        }
    }
    while let Some(done) = in_flight.next().await {
        check_ack(Some(done));
    }
    started.elapsed()
}

/// The part furthest behind its share (so equal counts go round robin).
fn most_behind(done: &[u64], parts: &[(&mut Workload, u64)]) -> usize {
    (0..parts.len())
        .filter(|&i| done[i] < parts[i].1)
        .min_by(|&a, &b| {
            let share = |i: usize| (done[i] + 1) as f64 / parts[i].1 as f64;
            share(a).total_cmp(&share(b))
        })
        .expect("a part with events left")
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
// Appends and replays

/// Pod `slot` declared (again), or an address allocated in network `t`: alternately.
pub fn append_event(slot: u64, i: u64) -> Event {
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

/// One durable append as an actor makes it, on `log`'s node; returns how long it took.
pub async fn append_one(
    log: &EventLog,
    seqs: &mut HashMap<String, u64>,
    event: &Event,
) -> Duration {
    let subject = subject::for_event(log.node(), event);
    let expected = seqs.get(&subject).copied().unwrap_or(0);
    let corr = uuid::Uuid::new_v4().to_string();
    let data = Bytes::from(Envelope::new(log.node(), "bench", &corr, event.clone()).encode());
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

/// One `fold_log` over the node's whole log, as boot and `mkube replay` run it: how long it
/// took and how many records it folded (all decodable, or it panics).
pub async fn timed_fold(log: &EventLog) -> (Duration, u64) {
    let mut fold = Fold::default();
    let started = Instant::now();
    fold_log(log, &mut fold, u64::MAX, |_, _| Visit::Continue)
        .await
        .expect("fold_log");
    let took = started.elapsed();
    assert!(fold.undecodable.is_empty());
    (took, fold.folded)
}

// ---------------------------------------------------------------------------------------------
// Boot

/// The release `mkube` binary for one node and stream, booted from spawn to `/readyz` = 200.
/// Standalone with RouterOS at a loopback port nobody serves: readiness waits for the replay,
/// not for the device.
pub struct Booter {
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    node: String,
    stream: String,
    http: reqwest::Client,
}

#[derive(Default)]
pub struct BootRun {
    pub ready: Duration,
    /// From the process's own `BOOT: replay complete` line.
    pub replay_total_ms: Option<u64>,
    pub replay_ms: Option<u64>,
    pub replayed: Option<u64>,
    pub snapshot_seq: Option<u64>,
    pub shutdown: Duration,
    pub final_snapshot: Option<u64>,
    /// Size of the snapshot the clean shutdown wrote.
    pub snapshot_bytes: Option<u64>,
}

impl Booter {
    /// `nats_url` may list several servers, comma-separated.
    pub fn new(dir: &Path, nats_url: &str, node: &str, stream: &str) -> Booter {
        let port = free_port();
        let config = dir.join(format!("{node}.yaml"));
        let text = format!(
            "nodeName: {node}\nstandalone: true\nrouteros:\n  restUrl: http://127.0.0.1:9/rest\nnetworks:\n  - name: t\n    bridge: t\n    cidr: 127.77.0.0/24\n    gateway: 127.77.0.1\n    dns:\n      endpoint: http://127.0.0.1:9\n      zone: t.lo\n      server: 127.77.0.252\n      staticRecords: []\nnats:\n  url: {nats_url}\n  stream: {stream}\n  snapshotEvery: 1000\napi:\n  listen: 127.0.0.1:{port}\nlifecycle:\n  bootManifestPath: \"\"\n"
        );
        std::fs::write(&config, text).expect("write config");
        Booter {
            dir: dir.to_path_buf(),
            config,
            port,
            node: node.to_string(),
            stream: stream.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("http client"),
        }
    }

    /// Boots `runs` times with the node's snapshot deleted before every run (a full replay).
    pub async fn no_snapshot_runs(&self, log: &EventLog, runs: u64) -> Vec<BootRun> {
        let mut results = Vec::new();
        for _ in 0..runs {
            self.delete_snapshot(log).await;
            results.push(self.boot("no snapshot").await);
        }
        results
    }

    /// Boots `runs` times from whatever snapshot the previous clean shutdown left.
    pub async fn snapshot_runs(&self, runs: u64) -> Vec<BootRun> {
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(self.boot("snapshot").await);
        }
        results
    }

    /// One boot: spawn, poll `/readyz` every 5 ms, then SIGTERM (which writes a snapshot).
    pub async fn boot(&self, label: &str) -> BootRun {
        let log_path = self.dir.join(format!("{}.log", self.node));
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
            "bench: boot of {} ({label}): ready in {}, replay {:?} ms of {:?} events, snapshot {:?}; final snapshot {:?}",
            self.node,
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

    pub async fn delete_snapshot(&self, log: &EventLog) {
        let bucket = SnapshotStore::bucket_name(&self.stream);
        if let Ok(store) = log.jetstream().get_object_store(&bucket).await {
            let _ = store.delete(SnapshotStore::object_name(&self.node)).await;
        }
    }

    pub async fn latest_snapshot_seq(&self, log: &EventLog) -> u64 {
        let store = SnapshotStore::open(log).await.expect("snapshot store");
        store
            .load::<mkube::actors::ClusterState>()
            .await
            .expect("load snapshot")
            .map_or(0, |s| s.last_seq)
    }
}

/// The median and the slowest of some boots (sorted by time to ready).
pub fn median_and_worst(runs: &mut [BootRun]) -> (&BootRun, Duration) {
    runs.sort_by_key(|r| r.ready);
    let worst = runs.last().expect("a run").ready;
    (&runs[runs.len() / 2], worst)
}

/// SIGTERM, as a supervisor stops it; waits for the exit.
pub fn terminate(child: &mut Child) {
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
pub fn log_lines(path: &Path) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
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

pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Latencies {
        samples.sort();
        Latencies(samples)
    }

    /// Nearest-rank percentile.
    pub fn pct(&self, p: f64) -> Duration {
        let n = self.0.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }

    pub fn max(&self) -> Duration {
        self.0.last().copied().unwrap_or_default()
    }
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub fn rate(n: u64, d: Duration) -> String {
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

/// "yes", "**no**", or nothing when there is no goal.
pub fn met(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "",
    }
}

/// A markdown table: by default Measurement | Result | Target | Met.
/// The `main` of a bench binary `name`: skips unless `cargo bench` runs it, then runs `run`
/// on a multi-threaded runtime and prints its table as markdown.
pub fn bench_main<Fut: std::future::Future<Output = Table>>(name: &str, run: impl FnOnce() -> Fut) {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("{name}: benchmarks run under `cargo bench --bench {name}`; skipping");
        return;
    }
    mkube::tls::ensure_ring_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let table = runtime.block_on(run());
    eprintln!("{name}: done in {:.1} s", started.elapsed().as_secs_f64());
    println!("{}", table.markdown());
}

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Default for Table {
    fn default() -> Table {
        Table::with_header(&["Measurement", "Result", "Target", "Met"])
    }
}

impl Table {
    pub fn with_header(columns: &[&str]) -> Table {
        Table {
            header: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(
        &mut self,
        what: impl Into<String>,
        value: impl Into<String>,
        target: &str,
        met_goal: Option<bool>,
    ) {
        self.cells(vec![
            what.into(),
            value.into(),
            target.to_string(),
            met(met_goal).to_string(),
        ]);
    }

    pub fn cells(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.header.len(), "a cell per column");
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}
