//! Issue 11 item 5: two controllers with different `nodeName`s on one NATS server and the
//! default stream. Each replays, serves and follows only its own subjects; both can write; the
//! first is unaffected by the second; restarts (snapshot + tail) keep them apart.

use crate::common;

use bytes::Bytes;
use common::mkube::{MkubeProcess, cli};
use common::{NatsServer, samples};
use futures::StreamExt;
use mkube::actors::ClusterState;
use mkube::actors::replay::boot_replay;
use mkube::events::log::{EventLog, LogError, LogSettings};
use mkube::events::snapshot::SnapshotStore;
use mkube::events::{Envelope, Record, subject};
use mkube::metrics::Metrics;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const STREAM: &str = "MKUBE_EVENTS";

fn settings(url: &str, node: &str) -> LogSettings {
    LogSettings {
        url: url.to_string(),
        stream: STREAM.into(),
        node: node.into(),
        replicas: 1,
    }
}

async fn node_log(url: &str, node: &str) -> EventLog {
    let log = EventLog::connect(settings(url, node), Metrics::new())
        .await
        .expect("connect");
    log.wait_ready().await;
    log
}

/// Appends one sample event as `node` would; returns its sequence.
async fn append(log: &EventLog, i: usize) -> u64 {
    let event = samples::all().remove(i);
    let subject = subject::for_event(log.node(), &event);
    let expected = log.last_sequence_of(&subject).await.unwrap().unwrap_or(0);
    let data = Bytes::from(Envelope::new(log.node(), "test", "", event).encode());
    let id = uuid::Uuid::new_v4().to_string();
    log.append(&subject, &id, expected, data)
        .await
        .expect("append")
        .seq
}

/// A bounded read, which must end promptly (not wait out its idle timeout).
async fn read(log: &EventLog, from: u64, until: u64) -> Vec<u64> {
    let started = Instant::now();
    let records = log.read(from, until).await.unwrap();
    let seqs: Vec<u64> = records.map(|r| r.unwrap().seq).collect().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "read {from}..={until} hung"
    );
    seqs
}

async fn stream_subjects(log: &EventLog) -> Vec<String> {
    let mut stream = log.jetstream().get_stream(STREAM).await.unwrap();
    stream.info().await.unwrap().config.subjects.clone()
}

/// Issue 11 item 5, at the log: the second node adds its subject, reads and writes only its
/// own records (bounded reads end at once despite the other node's records in between), and
/// the first node's reconnect-ensure keeps the second's subject.
#[actix_rt::test]
async fn each_node_reads_only_its_own_subjects_of_a_shared_stream() {
    let nats = NatsServer::start();
    let a = node_log(&nats.url(), "a").await;
    let a1 = append(&a, 0).await;
    let a2 = append(&a, 1).await;
    assert_eq!((a1, a2), (1, 2));

    let b = node_log(&nats.url(), "b").await;
    assert_eq!(stream_subjects(&b).await, ["mkube.a.>", "mkube.b.>"]);
    assert_eq!(b.last_sequence().await.unwrap(), 0, "b has no records yet");
    assert!(read(&b, 1, u64::MAX).await.is_empty(), "b sees none of a's");
    let b3 = append(&b, 0).await;
    let b4 = append(&b, 1).await;
    let a5 = append(&a, 2).await;
    assert_eq!((b3, b4, a5), (3, 4, 5));

    assert_eq!(read(&a, 1, u64::MAX).await, [1, 2, 5]);
    assert_eq!(read(&b, 1, u64::MAX).await, [3, 4]);
    // Bounded reads whose range ends on, or holds only, the other node's sequences.
    assert_eq!(read(&a, 1, 4).await, [1, 2]);
    assert_eq!(read(&a, 3, 4).await, Vec::<u64>::new());
    assert_eq!(read(&b, 4, 5).await, [4]);
    assert_eq!(a.last_sequence().await.unwrap(), 5);
    assert_eq!(b.last_sequence().await.unwrap(), 4);
    assert_eq!(a.stream_last_sequence().await.unwrap(), 5);

    // Node a ensuring again (as after every reconnect) leaves b's subject in place.
    a.ensure_stream().await.unwrap();
    assert_eq!(stream_subjects(&a).await, ["mkube.a.>", "mkube.b.>"]);

    // Following: a's follower skips b's records.
    let mut follow = Box::pin(a.follow(3));
    let next = tokio::time::timeout(Duration::from_secs(5), follow.next())
        .await
        .expect("a's next record")
        .unwrap();
    assert_eq!(next.seq, 5);
    append(&b, 2).await;
    let a7 = append(&a, 3).await;
    let next = tokio::time::timeout(Duration::from_secs(5), follow.next())
        .await
        .expect("a's next record")
        .unwrap();
    assert_eq!(next.seq, a7);
    assert!(next.subject.starts_with("mkube.a."));
}

/// Issue 11 item 5: a stream whose subjects already cover the node (`mkube.>`) is used as
/// is; one whose subject overlaps the node's without covering it is refused with an error
/// that names the subject and the setting to change.
#[actix_rt::test]
async fn covered_subjects_are_kept_and_partial_overlaps_are_refused() {
    let nats = NatsServer::start();
    let a = node_log(&nats.url(), "a").await;
    let mut config = a
        .jetstream()
        .get_stream(STREAM)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    config.subjects = vec!["mkube.>".into()];
    a.jetstream().update_stream(&config).await.unwrap();
    let b = node_log(&nats.url(), "b").await;
    assert_eq!(stream_subjects(&b).await, ["mkube.>"]);
    append(&b, 0).await;
    append(&a, 0).await;
    assert_eq!(read(&b, 1, u64::MAX).await, [1]);
    assert_eq!(read(&a, 1, u64::MAX).await, [2]);

    config.subjects = vec!["mkube.*.pods.>".into()];
    a.jetstream().update_stream(&config).await.unwrap();
    let c = EventLog::connect(settings(&nats.url(), "c"), Metrics::new())
        .await
        .unwrap();
    let err = c.ensure_stream().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LogError::Other(_)), "{err:?}");
    assert!(
        text.contains("mkube.*.pods.>") && text.contains("nats.stream"),
        "{text}"
    );
    assert_eq!(
        stream_subjects(&a).await,
        ["mkube.*.pods.>"],
        "nothing removed"
    );
}

/// Issue 11 item 5: a node whose subject another stream already holds cannot share; it does
/// not get ready and its log names the conflict and the setting to change.
#[actix_rt::test]
async fn a_node_whose_subject_another_stream_holds_refuses_to_start() {
    let nats = NatsServer::start();
    let a = node_log(&nats.url(), "a").await;
    a.jetstream()
        .create_stream(async_nats::jetstream::stream::Config {
            name: "OTHER".into(),
            subjects: vec!["mkube.d.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let d = EventLog::connect(settings(&nats.url(), "d"), Metrics::new())
        .await
        .unwrap();
    let err = d.ensure_stream().await.unwrap_err();
    assert!(matches!(err, LogError::Other(_)), "{err:?}");
    assert_eq!(stream_subjects(&a).await, ["mkube.a.>"], "nothing changed");

    let dir = tempfile::tempdir().unwrap();
    let http = common::http();
    let mk = MkubeProcess::start(dir.path(), "d", &nats.url());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !mk.log_text().contains("cannot hold mkube.d.>") {
        assert!(Instant::now() < deadline, "{}", mk.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mk.log_text().contains("nats.stream"), "{}", mk.log_text());
    let ready = http.get(mk.url("/readyz")).send().await.unwrap();
    assert!(!ready.status().is_success(), "d must not be ready");
}

/// Issue 11 item 5, upgrade: the single `state` object of older versions is loaded only by
/// the node whose subjects it folded; another node ignores it and replays its own subjects.
#[actix_rt::test]
async fn a_legacy_snapshot_is_loaded_only_by_its_own_node() {
    let nats = NatsServer::start();
    let a = node_log(&nats.url(), "a").await;
    for i in 0..4 {
        append(&a, i).await;
    }
    let b = node_log(&nats.url(), "b").await;
    append(&b, 0).await;
    // What an older `a` wrote: the fold of its records, as the one object `state`.
    let a_store = SnapshotStore::open(&a).await.unwrap();
    let a_fold = boot_replay(&a, &a_store).await.unwrap().fold;
    assert_eq!(a_fold.last_seq, 4);
    let bucket = a
        .jetstream()
        .get_object_store(SnapshotStore::bucket_name(STREAM))
        .await
        .unwrap();
    let bytes = a_fold.to_snapshot().encode();
    bucket.put("state", &mut bytes.as_slice()).await.unwrap();

    let from_legacy = boot_replay(&a, &a_store).await.unwrap();
    assert_eq!(
        from_legacy.snapshot_seq,
        Some(4),
        "a keeps its old snapshot"
    );
    assert_eq!(from_legacy.fold.state, a_fold.state);

    let b_store = SnapshotStore::open(&b).await.unwrap();
    assert!(b_store.load::<ClusterState>().await.unwrap().is_none());
    let b_boot = boot_replay(&b, &b_store).await.unwrap();
    assert_eq!(b_boot.snapshot_seq, None, "b does not adopt a's snapshot");
    assert_eq!(b_boot.fold.last_seq, 5);
    assert!(
        b_boot
            .fold
            .subject_seqs
            .keys()
            .all(|s| s.starts_with("mkube.b."))
    );
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

async fn create(http: &reqwest::Client, mk: &MkubeProcess, name: &str) -> String {
    let r = http
        .post(mk.url("/api/v1/namespaces/default/pods"))
        .json(&pod(name))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "creating {name} on {}", mk.base);
    let body: Value = r.json().await.unwrap();
    body["metadata"]["uid"].as_str().unwrap().to_string()
}

/// The (name, uid) of every pod node `node` holds: of the fleet's pods a controller lists
/// (issue 16), those whose `spec.nodeName` is `node`.
async fn listed(
    http: &reqwest::Client,
    mk: &MkubeProcess,
    node: &str,
) -> BTreeSet<(String, String)> {
    let list = mk.get_json(http, "/api/v1/pods").await;
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter(|p| p["spec"]["nodeName"] == node)
        .map(|p| {
            let m = &p["metadata"];
            (
                m["name"].as_str().unwrap().to_string(),
                m["uid"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Reads watch lines until one shows a pod named `until`, or with `""` until the watch ends
/// (within 15 s either way).
async fn watch_until(
    body: &mut (impl futures::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    until: &str,
) -> Vec<Value> {
    let mut buf = String::new();
    let mut out: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            let v: Value = serde_json::from_str(line.trim()).expect("a JSON watch line");
            let name = v["object"]["metadata"]["name"].clone();
            out.push(v);
            if !until.is_empty() && name == until {
                return out;
            }
        }
        let next = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("watch: no {until:?} in {out:?}"));
        match next {
            Some(chunk) => buf.push_str(std::str::from_utf8(&chunk.expect("chunk")).unwrap()),
            None if until.is_empty() => return out,
            None => panic!("watch ended before {until}: {out:?}"),
        }
    }
}

/// Issue 11 item 5, end to end with the real binary: node `a` runs with a pod; node `b`
/// starts on the same NATS and default stream, holds none of a's pods (it lists them as a's,
/// issue 16), creates its own
/// (even one with the same name); `a` still lists exactly its own and can write; a watch on
/// `a` never shows b's events; after restarting both (final snapshots + replay) each still
/// sees only its own, and each has its own snapshot object.
#[actix_rt::test]
async fn two_nodes_on_one_stream_keep_to_their_own_pods() {
    let nats = NatsServer::start();
    let url = nats.url();
    let http = common::http();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let mut a = MkubeProcess::start(dir_a.path(), "a", &url);
    a.wait_ready(&http).await;
    let web_a = create(&http, &a, "web").await;
    let mut own_a = BTreeSet::from([("web".to_string(), web_a)]);
    assert_eq!(listed(&http, &a, "a").await, own_a);

    // A watch on a, from now on.
    let watch = http
        .get(a.url("/api/v1/pods?watch=true&timeoutSeconds=8"))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let mut watch = Box::pin(watch.bytes_stream());
    watch_until(&mut watch, "web").await;

    let mut b = MkubeProcess::start(dir_b.path(), "b", &url);
    b.wait_ready(&http).await;
    assert!(
        listed(&http, &b, "b").await.is_empty(),
        "b adopted a's pods"
    );
    let web_b = create(&http, &b, "web").await;
    let only_b = create(&http, &b, "only-b").await;
    let own_b = BTreeSet::from([("web".to_string(), web_b), ("only-b".to_string(), only_b)]);
    assert_eq!(listed(&http, &b, "b").await, own_b);

    assert_eq!(listed(&http, &a, "a").await, own_a, "a is unaffected");
    let a2 = create(&http, &a, "a2").await;
    own_a.insert(("a2".to_string(), a2));
    assert_eq!(listed(&http, &a, "a").await, own_a);
    let mut seen = watch_until(&mut watch, "a2").await;
    // Read on until the watch times out: b keeps running meanwhile, and an open watch would
    // hold a's graceful shutdown.
    seen.extend(watch_until(&mut watch, "").await);
    let a_uids: BTreeSet<&str> = own_a.iter().map(|(_, uid)| uid.as_str()).collect();
    for line in &seen {
        let uid = line["object"]["metadata"]["uid"]
            .as_str()
            .unwrap_or_default();
        assert!(a_uids.contains(uid), "a's watch showed {line}");
    }

    // Restart both: each boots from its own final snapshot plus its own tail.
    assert!(a.terminate().success() && b.terminate().success());
    assert!(a.log_text().contains("final snapshot written"));
    assert!(b.log_text().contains("final snapshot written"));
    let log = cluster_log(&url).await;
    let bucket = log
        .jetstream()
        .get_object_store(SnapshotStore::bucket_name(STREAM))
        .await
        .unwrap();
    for node in ["a", "b"] {
        let object = SnapshotStore::object_name(node);
        assert!(bucket.info(&object).await.is_ok(), "no snapshot {object}");
    }
    assert!(bucket.info("state").await.is_err(), "no shared snapshot");

    let a = MkubeProcess::start(dir_a.path(), "a", &url);
    let b = MkubeProcess::start(dir_b.path(), "b", &url);
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;
    assert!(
        a.log_text().contains("replayed from snapshot"),
        "{}",
        a.log_text()
    );
    assert!(
        b.log_text().contains("replayed from snapshot"),
        "{}",
        b.log_text()
    );
    assert_eq!(listed(&http, &a, "a").await, own_a);
    assert_eq!(listed(&http, &b, "b").await, own_b);
    create(&http, &b, "b3").await;
    create(&http, &a, "a3").await;
    assert_eq!(listed(&http, &a, "a").await.len(), own_a.len() + 1);
    assert_eq!(listed(&http, &b, "b").await.len(), own_b.len() + 1);
    assert_eq!(stream_subjects(&log).await, ["mkube.a.>", "mkube.b.>"]);
}

/// A whole-stream reader (as the log tools open it without `--node`).
async fn cluster_log(url: &str) -> EventLog {
    let log = EventLog::connect_reader(settings(url, ""), Metrics::new())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log.is_connected() {
        assert!(Instant::now() < deadline, "NATS did not answer");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    log
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "mkube failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 11 item 5, log tools: by default they show every node (replay prints one state per
/// node); `--node` narrows them; export and import carry both nodes; a file whose record is
/// not an mkube subject is a clear import error.
#[actix_rt::test]
async fn log_tools_show_every_node_or_one() {
    let nats = NatsServer::start();
    let url = nats.url();
    let a = node_log(&url, "a").await;
    let b = node_log(&url, "b").await;
    append(&a, 0).await;
    append(&b, 0).await;
    append(&a, 1).await;

    let all = json_lines(&cli(&["replay", "--nats", &url, "--format", "json"]));
    let events: Vec<u64> = all.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert_eq!(events, [1, 2, 3]);
    let states: Vec<(&str, u64)> = all
        .iter()
        .filter(|l| l.get("lastSeq").is_some())
        .map(|l| (l["node"].as_str().unwrap(), l["lastSeq"].as_u64().unwrap()))
        .collect();
    assert_eq!(states, [("a", 3), ("b", 2)]);

    let only_b = json_lines(&cli(&[
        "replay", "--nats", &url, "--format", "json", "--node", "b",
    ]));
    assert_eq!(only_b.len(), 2);
    assert_eq!(only_b[0]["seq"], 2);
    assert_eq!(only_b[0]["node"], "b");
    assert_eq!(only_b[1]["node"], "b");
    let events_a = json_lines(&cli(&[
        "events", "--nats", &url, "--format", "json", "--node", "a",
    ]));
    let seqs: Vec<u64> = events_a
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 3]);

    // Export everything, import into an empty server: both nodes' subjects are created.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.cbor");
    let file_s = file.to_str().unwrap();
    let out = cli(&["export", "--nats", &url, "--out", file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = NatsServer::start();
    let out = cli(&["import", file_s, "--nats", &other.url()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported = cluster_log(&other.url()).await;
    assert_eq!(stream_subjects(&imported).await, ["mkube.a.>", "mkube.b.>"]);
    let from_file = json_lines(&cli(&[
        "replay", "--file", file_s, "--format", "json", "--node", "a",
    ]));
    assert_eq!(from_file.len(), 3, "a's two events and its state");

    // A node-scoped export holds only that node's records.
    let file_b = dir.path().join("b.cbor");
    let out = cli(&[
        "export",
        "--nats",
        &url,
        "--node",
        "b",
        "--out",
        file_b.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let (_, records) = mkube::events::export::read_file(&file_b).unwrap();
    let subjects: Vec<&str> = records.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(subjects.len(), 1);
    assert!(subjects[0].starts_with("mkube.b."));

    let blank = cli(&["replay", "--nats", &url, "--node", ""]);
    assert!(!blank.status.success());
    assert!(String::from_utf8_lossy(&blank.stderr).contains("--node"));

    // An export whose record is not on an mkube subject: a clear error, nothing imported.
    let bad = dir.path().join("bad.cbor");
    let mut writer = mkube::events::export::ExportWriter::create(&bad, STREAM).unwrap();
    writer
        .write(&Record {
            seq: 1,
            subject: "elsewhere.x".into(),
            stored: chrono::Utc::now(),
            data: Bytes::from_static(b"x"),
        })
        .unwrap();
    writer.finish().unwrap();
    let empty = NatsServer::start();
    let out = cli(&["import", bad.to_str().unwrap(), "--nats", &empty.url()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("elsewhere.x") && err.contains("record 1"),
        "{err}"
    );
}
