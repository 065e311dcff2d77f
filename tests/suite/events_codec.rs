//! The envelope and its CBOR codec: round trips, upcasting, and bad records.

use crate::common;

use common::samples;
use mkube::events::{Envelope, SCHEMA_VERSION, subject};
use std::collections::BTreeSet;

#[test]
fn every_event_kind_round_trips_through_cbor() {
    let all = samples::all();
    let kinds: BTreeSet<_> = all.iter().map(samples::kind_name).collect();
    assert_eq!(kinds.len(), all.len(), "one sample per kind");
    for event in all {
        let env = Envelope::new("node-a", "test", "corr-1", event.clone());
        let bytes = env.encode();
        let back = Envelope::decode(&bytes, 7).expect("decodes");
        assert_eq!(back.event, event);
        assert_eq!(back.kind(), samples::kind_name(&event));
        assert_eq!(
            (
                back.node.as_str(),
                back.actor.as_str(),
                back.correlation.as_str()
            ),
            ("node-a", "test", "corr-1")
        );
        assert_eq!(back.version, SCHEMA_VERSION);
        // Millisecond precision on the wire.
        assert_eq!(back.time.timestamp_millis(), env.time.timestamp_millis());
    }
}

#[test]
fn every_event_has_a_subject_under_its_area() {
    for event in samples::all() {
        let s = subject::for_event("rose1", &event);
        let prefix = format!("mkube.rose1.{}", event.area());
        assert!(s == prefix || s.starts_with(&format!("{prefix}.")), "{s}");
        assert!(!s.contains(' ') && !s.contains('*') && !s.contains('>'));
    }
}

#[test]
fn pod_subjects_escape_dots_into_single_tokens() {
    let event = samples::all().remove(0);
    assert_eq!(
        subject::for_event("rose1", &event),
        "mkube.rose1.pods.default.web"
    );
    let zone = mkube::events::catalogue::DnsEvent::ZoneBound {
        network: "g10".into(),
        zone: "g10.lo".into(),
        zone_id: "1".into(),
        endpoint: String::new(),
        namespace: None,
    };
    assert_eq!(
        subject::for_event("rose1", &zone.into()),
        "mkube.rose1.dns.g10%2Elo"
    );
}

#[test]
fn checked_in_v1_record_is_upcast_to_the_current_schema() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/suite/fixtures/events/v1-ip-allocated.cbor"
    ))
    .unwrap();
    let env = Envelope::decode(&bytes, 3).expect("v1 decodes");
    assert_eq!(env.version, 1);
    assert_eq!(env.kind(), "ipam.IpAllocated");
    assert_eq!(env.node, "rose1");
    match env.event {
        mkube::events::Event::Ipam(mkube::events::catalogue::IpamEvent::IpAllocated {
            network,
            key,
            ip,
            hostname,
            is_static,
        }) => {
            assert_eq!(network, "g10");
            assert_eq!(key, "veth_g10_dns_0");
            assert_eq!(ip.to_string(), "127.42.0.252");
            assert_eq!(hostname, "");
            assert!(!is_static);
        }
        other => panic!("upcast to the wrong event: {other:?}"),
    }
}

#[test]
fn garbage_records_are_errors_carrying_their_sequence() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not cbor", b"hello world".to_vec()),
        (
            "truncated",
            Envelope::new("n", "a", "", samples::all().remove(0)).encode()[..20].to_vec(),
        ),
        ("cbor but not an envelope", {
            let mut v = vec![];
            ciborium::into_writer(&42u32, &mut v).unwrap();
            v
        }),
    ];
    for (what, bytes) in cases {
        let err = Envelope::decode(&bytes, 99).expect_err(what);
        assert_eq!(err.seq, 99, "{what}");
    }
}

#[test]
fn unknown_kinds_versions_and_payloads_are_errors() {
    let good = Envelope::new("n", "a", "", samples::all().remove(2)).encode();
    let mut wire: ciborium::Value = ciborium::from_reader(good.as_slice()).unwrap();
    let set = |wire: &mut ciborium::Value, key: &str, value: ciborium::Value| {
        if let ciborium::Value::Map(entries) = wire {
            for (k, v) in entries.iter_mut() {
                if k.as_text() == Some(key) {
                    *v = value.clone();
                }
            }
        }
    };
    let encode = |v: &ciborium::Value| {
        let mut out = vec![];
        ciborium::into_writer(v, &mut out).unwrap();
        out
    };
    let mut future = wire.clone();
    set(
        &mut future,
        "v",
        ciborium::Value::Integer((SCHEMA_VERSION + 1).into()),
    );
    assert!(
        Envelope::decode(&encode(&future), 5)
            .unwrap_err()
            .reason
            .contains("schema version")
    );
    let mut unknown = wire.clone();
    set(
        &mut unknown,
        "kind",
        ciborium::Value::Text("pods.PodExploded".into()),
    );
    assert!(Envelope::decode(&encode(&unknown), 6).is_err());
    let mut no_area = wire.clone();
    set(
        &mut no_area,
        "kind",
        ciborium::Value::Text("PodDeleted".into()),
    );
    assert!(Envelope::decode(&encode(&no_area), 6).is_err());
    set(&mut wire, "payload", ciborium::Value::Text("oops".into()));
    assert_eq!(Envelope::decode(&encode(&wire), 8).unwrap_err().seq, 8);
}
