//! Snapshots: snapshot + tail folds to exactly what the whole log folds to.

use crate::common;

use bytes::Bytes;
use common::{NatsServer, cluster, samples};
use mkube::actors::journal::testing::Append;
use mkube::actors::replay::boot_replay;
use mkube::actors::{ClusterState, Fold};
use mkube::events::catalogue::*;
use mkube::events::snapshot::{Snapshot, SnapshotStore};
use mkube::events::{Envelope, Event, Record, subject};
use proptest::prelude::*;

/// An event from a small vocabulary, so that random sequences create, change and remove the
/// same keys.
fn event(kind: u8, key: u8) -> Event {
    let name = format!("p{}", key % 4);
    let ns = if key.is_multiple_of(2) {
        "default"
    } else {
        "infra"
    }
    .to_string();
    let ip = format!("127.77.0.{}", 10 + key % 8).parse().unwrap();
    match kind % 12 {
        0 => PodsEvent::PodDeclared {
            namespace: ns.clone(),
            name: name.clone(),
            source: PodSource::Api,
            pod: Box::new(samples::pod(&ns, &name)),
        }
        .into(),
        1 => PodsEvent::PodDeleted {
            namespace: ns,
            name,
        }
        .into(),
        2 => PodsEvent::ContainerCreated {
            namespace: ns,
            name,
            container: "web".into(),
            device_name: "d".into(),
            device_id: format!("*{key}"),
            adopted: key.is_multiple_of(3),
        }
        .into(),
        3 => PodsEvent::ContainerStarted {
            namespace: ns,
            name,
            container: "web".into(),
        }
        .into(),
        4 => IpamEvent::IpAllocated {
            network: "t".into(),
            key: format!("veth{key}"),
            ip,
            hostname: name,
            is_static: key.is_multiple_of(2),
        }
        .into(),
        5 => IpamEvent::IpReleased {
            network: "t".into(),
            key: format!("veth{key}"),
        }
        .into(),
        6 => VethsEvent::VethCreated {
            name: format!("veth{key}"),
            network: "t".into(),
            address: format!("{ip}/24"),
            gateway: "127.77.0.1".into(),
            bridge: "t".into(),
        }
        .into(),
        7 => VethsEvent::VethRemoved {
            name: format!("veth{key}"),
        }
        .into(),
        8 => DnsEvent::RecordRegistered {
            zone: "t.lo".into(),
            name,
            ip,
            record_id: format!("r{key}"),
            ttl: 60,
        }
        .into(),
        9 => DnsEvent::RecordDeregistered {
            zone: "t.lo".into(),
            name,
            ip,
        }
        .into(),
        10 => ImagesEvent::ImageResolved {
            reference: format!("web:v{}", key % 3),
            digest: format!("sha256:{key}"),
        }
        .into(),
        _ => ConsistencyEvent::NetworkFailureCounted {
            namespace: ns,
            name,
            failures: key as u32,
        }
        .into(),
    }
}

fn records(events: &[Event]) -> Vec<Record> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| Record {
            seq: i as u64 + 1,
            subject: subject::for_event("n", e),
            stored: chrono::Utc::now(),
            data: Bytes::from(Envelope::new("n", "test", "", e.clone()).encode()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn snapshot_plus_tail_equals_full_replay(
        ops in prop::collection::vec((any::<u8>(), any::<u8>()), 0..120),
        cut in any::<prop::sample::Index>(),
    ) {
        let events: Vec<Event> = ops.iter().map(|(k, n)| event(*k, *n)).collect();
        let recs = records(&events);
        let mut full = Fold::default();
        for r in &recs {
            full.record(r).unwrap();
        }
        let at = if recs.is_empty() { 0 } else { cut.index(recs.len() + 1) };
        let mut head = Fold::default();
        for r in &recs[..at] {
            head.record(r).unwrap();
        }
        // Through the snapshot's own encoding, as boot reads it.
        let bytes = head.to_snapshot().encode();
        let snap = Snapshot::<ClusterState>::decode(&bytes).unwrap();
        let mut resumed = Fold::from_snapshot(snap);
        for r in &recs[at..] {
            resumed.record(r).unwrap();
        }
        prop_assert_eq!(&resumed.state, &full.state);
        prop_assert_eq!(resumed.last_seq, full.last_seq);
        prop_assert_eq!(&resumed.subject_seqs, &full.subject_seqs);
    }
}

/// On a real stream: boot from a snapshot plus tail gives the state of a full replay, and the
/// tail is all that is read.
#[actix_rt::test]
async fn boot_from_snapshot_reads_only_the_tail() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    for i in 0..30u8 {
        cluster::record(&c, event(i, i), "").await;
        if i == 19 {
            assert_eq!(c.snapshotter.flush().await.unwrap(), 20);
        }
    }
    let log = cluster::log(&cfg).await;
    let store = SnapshotStore::open(&log).await.unwrap();
    let from_snapshot = boot_replay(&log, &store).await.unwrap();
    assert_eq!(from_snapshot.snapshot_seq, Some(20));
    assert_eq!(from_snapshot.fold.folded, 10, "only the tail is replayed");
    let mut full = Fold::default();
    mkube::actors::replay::fold_log(&log, &mut full, u64::MAX, |_, _| {
        mkube::actors::replay::Visit::Continue
    })
    .await
    .unwrap();
    assert_eq!(from_snapshot.fold.state, full.state);
    assert_eq!(from_snapshot.fold.subject_seqs, full.subject_seqs);
    assert_eq!(from_snapshot.target, 30);
}

/// Every N events the snapshotter writes on its own (`nats.snapshotEvery`).
#[actix_rt::test]
async fn snapshots_are_written_every_n_events() {
    let nats = NatsServer::start();
    let mut cfg = cluster::config(&nats.url());
    cfg.nats.snapshot_every = 5;
    let c = cluster::boot(&cfg).await;
    for i in 0..12u8 {
        let e = VethsEvent::VethCreated {
            name: format!("v{i}"),
            network: "t".into(),
            address: String::new(),
            gateway: String::new(),
            bridge: "t".into(),
        };
        c.veths
            .send(Append {
                event: e,
                correlation: String::new(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let log = cluster::log(&cfg).await;
    let store = SnapshotStore::open(&log).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let snap = store.load::<ClusterState>().await.unwrap();
        if snap.as_ref().is_some_and(|s| s.last_seq == 10) {
            assert_eq!(snap.unwrap().state.veths.veths.len(), 10);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot at 10");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A snapshot that is garbage or ahead of the stream costs time, never state.
#[actix_rt::test]
async fn a_broken_or_foreign_snapshot_falls_back_to_full_replay() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let e = VethsEvent::VethCreated {
        name: "v".into(),
        network: "t".into(),
        address: String::new(),
        gateway: String::new(),
        bridge: "t".into(),
    };
    c.veths
        .send(Append {
            event: e,
            correlation: String::new(),
        })
        .await
        .unwrap()
        .unwrap();
    let log = cluster::log(&cfg).await;
    let store = SnapshotStore::open(&log).await.unwrap();
    // Ahead of the stream: belongs to a lost stream.
    store
        .save(&Snapshot::new(
            500,
            Default::default(),
            ClusterState::default(),
        ))
        .await
        .unwrap();
    let r = boot_replay(&log, &store).await.unwrap();
    assert_eq!(r.snapshot_seq, None);
    assert!(r.fold.state.veths.veths.contains_key("v"));
    // Garbage bytes in the object.
    let bucket = log
        .jetstream()
        .get_object_store(SnapshotStore::bucket_name("MKUBE_EVENTS"))
        .await
        .unwrap();
    let object = SnapshotStore::object_name(cluster::NODE);
    bucket
        .put(object.as_str(), &mut &b"not cbor"[..])
        .await
        .unwrap();
    let r = boot_replay(&log, &store).await.unwrap();
    assert_eq!(r.snapshot_seq, None);
    assert!(r.fold.state.veths.veths.contains_key("v"));
}

/// Found by the soak: a controller killed (no final snapshot) before `snapshotEvery` new
/// events, again and again, never wrote a snapshot, so every boot replayed a longer tail. The
/// count runs from the snapshot boot replayed from: two lives of 6 events with
/// `snapshotEvery: 10` write one at the 10th; and a boot that replays 10 or more past the
/// last snapshot (the setting was lowered) writes one at once.
#[actix_rt::test]
async fn the_snapshot_count_survives_restarts() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let every = |n: u32| {
        let url = nats.url();
        move |listen: &str| {
            common::mkube::config_text(cluster::NODE, &url, listen, "")
                .replace("snapshotEvery: 1000", &format!("snapshotEvery: {n}"))
        }
    };
    let http = common::http();
    let cfg = cluster::config(&nats.url());
    let log = cluster::log(&cfg).await;
    let store = SnapshotStore::open(&log).await.unwrap();
    let mut next = 0u32;
    let mut life = |text: &dyn Fn(&str) -> String, events: u32| {
        let mk = common::mkube::MkubeProcess::start_config(dir.path(), text);
        let http = http.clone();
        let first = next;
        next += events;
        async move {
            mk.wait_ready(&http).await;
            for i in first..first + events {
                let pod = serde_json::json!({"metadata": {"name": format!("p{i}")},
                    "spec": {"containers": [{"name": "c", "image": "img"}]}});
                let r = http
                    .post(mk.url("/api/v1/namespaces/default/pods"))
                    .json(&pod)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
            mk
        }
    };
    let snapshot_at = async |seq: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let snap = store.load::<ClusterState>().await.unwrap();
            if snap.as_ref().is_some_and(|s| s.last_seq == seq) {
                return snap.unwrap();
            }
            let got = snap.map(|s| s.last_seq);
            assert!(
                std::time::Instant::now() < deadline,
                "no snapshot at {seq}: {got:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    life(&every(10), 6).await.kill();
    assert!(store.load::<ClusterState>().await.unwrap().is_none());
    let mut mk = life(&every(10), 6).await;
    assert_eq!(snapshot_at(10).await.state.pods.pods.len(), 10);
    mk.kill();
    // 13 more events with a high setting, then a boot with the low one: it replays 15 events
    // past the snapshot and writes one without waiting for a new event.
    life(&every(1000), 13).await.kill();
    let last = log.last_sequence().await.unwrap();
    assert_eq!(last, 25);
    let mk = common::mkube::MkubeProcess::start_config(dir.path(), every(10));
    mk.wait_ready(&http).await;
    assert_eq!(snapshot_at(last).await.state.pods.pods.len(), 25);
    assert_eq!(
        log.last_sequence().await.unwrap(),
        last,
        "no new event needed"
    );
}
