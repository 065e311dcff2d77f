//! The JetStream log: durable appends, de-duplication, optimistic concurrency, replay.

use crate::common;

use bytes::Bytes;
use common::{NatsServer, cluster, samples};
use futures::StreamExt;
use mkube::actors::Fold;
use mkube::actors::journal::testing::{Append, Inspect};
use mkube::actors::replay::{Visit, fold_log};
use mkube::actors::veths::state::VethsState;
use mkube::events::catalogue::VethsEvent;
use mkube::events::{AppendError, Envelope, subject};

async fn read_all(log: &mkube::events::EventLog) -> Vec<mkube::events::Record> {
    let last = log.last_sequence().await.unwrap();
    let records = log.read(1, last).await.unwrap();
    records.map(|r| r.unwrap()).collect().await
}

#[actix_rt::test]
async fn appended_events_replay_in_order_with_their_subjects() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let log = cluster::log(&cfg).await;
    let events = samples::all();
    let mut seqs = std::collections::HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let subject = subject::for_event(cluster::NODE, event);
        let expected = seqs.get(&subject).copied().unwrap_or(0);
        let data = Bytes::from(
            Envelope::new(cluster::NODE, "test", &format!("c{i}"), event.clone()).encode(),
        );
        let appended = log
            .append(&subject, &format!("id-{i}"), expected, data)
            .await
            .expect("append");
        assert_eq!(appended.seq, i as u64 + 1);
        assert!(!appended.duplicate);
        seqs.insert(subject, appended.seq);
    }
    let records = read_all(&log).await;
    assert_eq!(records.len(), events.len());
    for (record, event) in records.iter().zip(&events) {
        assert_eq!(record.subject, subject::for_event(cluster::NODE, event));
        assert_eq!(&record.decode().unwrap().event, event);
    }
    // A bounded read stops where asked, and an empty range reads nothing.
    let first_three: Vec<_> = log.read(1, 3).await.unwrap().collect().await;
    assert_eq!(first_three.len(), 3);
    let none: Vec<_> = log.read(100, 200).await.unwrap().collect().await;
    assert!(none.is_empty());
    // The fold tracks every subject's last sequence.
    let mut fold = Fold::default();
    fold_log(&log, &mut fold, u64::MAX, |_, _| Visit::Continue)
        .await
        .unwrap();
    assert_eq!(fold.last_seq, events.len() as u64);
    assert_eq!(fold.subject_seqs.len(), seqs.len());
}

// Found by the soak: a subject's last sequence (every API read's resourceVersion) asked while
// NATS is down waited out the JetStream timeout; it now says at once that NATS is not there.
#[actix_rt::test]
async fn a_subject_read_without_nats_says_so_instead_of_timing_out() {
    let mut nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let log = cluster::log(&cfg).await;
    let subject = subject::for_key(cluster::NODE, "configmaps", &["default", "x"]);
    assert_eq!(log.last_sequence_of(&subject).await.unwrap(), None);
    nats.kill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.is_connected() {
        assert!(std::time::Instant::now() < deadline, "disconnect not seen");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let err = log.last_sequence_of(&subject).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "event log unavailable: not connected to NATS"
    );
}

#[actix_rt::test]
async fn a_retried_append_is_stored_once() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let log = cluster::log(&cfg).await;
    let event = samples::all().remove(0);
    let subject = subject::for_event(cluster::NODE, &event);
    let data = Bytes::from(Envelope::new(cluster::NODE, "test", "", event).encode());
    let first = log
        .append(&subject, "same-id", 0, data.clone())
        .await
        .unwrap();
    // The retry carries the same message id and the same expected sequence, as after a lost ack.
    let retry = log.append(&subject, "same-id", 0, data).await.unwrap();
    assert_eq!(retry.seq, first.seq);
    assert!(retry.duplicate);
    assert_eq!(log.last_sequence().await.unwrap(), 1);
    assert_eq!(read_all(&log).await.len(), 1);
}

#[actix_rt::test]
async fn a_conflicting_append_is_rejected() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let log = cluster::log(&cfg).await;
    let event = samples::all().remove(0);
    let subject = subject::for_event(cluster::NODE, &event);
    let data = Bytes::from(Envelope::new(cluster::NODE, "test", "", event).encode());
    log.append(&subject, "a", 0, data.clone()).await.unwrap();
    // A second writer that has not seen sequence 1 still expects an empty subject.
    let err = log.append(&subject, "b", 0, data).await.unwrap_err();
    assert!(
        matches!(err, AppendError::Conflict { expected: 0, .. }),
        "{err:?}"
    );
    assert_eq!(log.last_sequence().await.unwrap(), 1);
}

/// Two mkube processes for one node must not both win: the actor that loses catches up with
/// the winner's events and can decide again.
#[actix_rt::test]
async fn an_actor_that_loses_a_race_catches_up_and_succeeds_next() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let a = cluster::boot(&cfg).await;
    let b = cluster::boot(&cfg).await;
    let created = |name: &str| VethsEvent::VethCreated {
        name: name.into(),
        network: "t".into(),
        address: "127.77.0.9/24".into(),
        gateway: "127.77.0.1".into(),
        bridge: "t".into(),
    };
    a.veths
        .send(Append {
            event: created("veth_x"),
            correlation: "a".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let lost = b
        .veths
        .send(Append {
            event: VethsEvent::VethRemoved {
                name: "veth_x".into(),
            },
            correlation: "b".into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(lost, Err(AppendError::Conflict { .. })),
        "{lost:?}"
    );
    // b has applied a's event while catching up…
    let b_state = b.veths.send(Inspect::<VethsState>::new()).await.unwrap();
    assert!(b_state.veths.contains_key("veth_x"));
    // …so its next decision is made on current state and lands.
    b.veths
        .send(Append {
            event: VethsEvent::VethRemoved {
                name: "veth_x".into(),
            },
            correlation: "b".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let b_state = b.veths.send(Inspect::<VethsState>::new()).await.unwrap();
    assert!(b_state.veths.is_empty());
}
