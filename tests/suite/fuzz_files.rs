//! Fuzzing what mkube reads from files and from the log (issue 17): the config file and the
//! boot manifest (the site's own documents with fields removed, replaced by any value or joined
//! by unknown keys, and cut short) load or fail with an error, never a panic; log records
//! (valid envelopes of every event kind, cut, with bytes flipped, or random) decode or fail,
//! and a fold skips what does not decode without changing its state.

use crate::common::samples;
use crate::fuzz_support::*;
use mkube::actors::cluster::Fold;
use mkube::config::from_yaml_str;
use mkube::config::parse_manifest;
use mkube::events::{Envelope, Record, subject};
use proptest::prelude::*;
use serde_json::Value;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The YAML documents of a file of the repository.
fn yaml_docs(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

fn to_yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A site's documents with one of them changed by generated mutations, or their text cut
/// short at a generated point (per mille), or a nasty string.
fn yaml_cases(docs: Vec<Value>) -> impl Strategy<Value = String> {
    let text = to_yaml(&docs);
    prop_oneof![
        (any::<usize>(), mutations()).prop_map(move |(i, m)| {
            let mut docs = docs.clone();
            let n = i % docs.len();
            docs[n] = mutate(docs[n].clone(), &m);
            to_yaml(&docs)
        }),
        (0usize..1000).prop_map(move |cut| {
            let mut end = text.len() * cut / 1000;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_string()
        }),
        nasty_string(),
    ]
}

/// Runs `f` on every case; a panic fails the test naming the case.
fn never_panics<T: std::fmt::Debug>(cases: &[T], f: impl Fn(&T)) {
    for (i, case) in cases.iter().enumerate() {
        if catch_unwind(AssertUnwindSafe(|| f(case))).is_err() {
            panic!("case {i} panicked: {case:?}");
        }
    }
}

#[test]
fn generated_config_files_load_or_fail_with_an_error() {
    let mut accepted = 0;
    for path in ["config/demo.yaml", "deploy/rose1/config.yaml"] {
        let cases = draw(yaml_cases(yaml_docs(path)), case_count());
        never_panics(&cases, |text| {
            if let Ok(loaded) = from_yaml_str(text, "fuzz") {
                // What loads is a valid configuration: it validates again.
                assert!(loaded.config.validate("fuzz").is_ok(), "{text}");
            }
        });
        accepted += cases
            .iter()
            .filter(|t| from_yaml_str(t, "fuzz").is_ok())
            .count();
    }
    eprintln!("config cases accepted: {accepted}");
}

#[test]
fn generated_boot_manifests_parse_or_fail_with_an_error() {
    for path in [
        "config/demo-boot-order.yaml",
        "deploy/rose1/boot-order.yaml",
    ] {
        let cases = draw(yaml_cases(yaml_docs(path)), case_count());
        never_panics(&cases, |text| {
            let _ = parse_manifest(text, "fuzz");
        });
    }
}

/// Bytes of a valid envelope of one of every event kind, then damaged by `how`.
#[derive(Debug, Clone)]
enum Damage {
    None,
    Cut(usize),
    Flip(usize, u8),
    Random(Vec<u8>),
}

fn damages() -> impl Strategy<Value = (usize, Damage)> {
    (
        any::<usize>(),
        prop_oneof![
            Just(Damage::None),
            any::<usize>().prop_map(Damage::Cut),
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
            prop::collection::vec(any::<u8>(), 0..200).prop_map(Damage::Random),
        ],
    )
}

#[test]
fn generated_log_records_decode_or_are_skipped_without_changing_state() {
    let events = samples::all();
    let cases = draw(damages(), case_count() * 4);
    let mut fold = Fold::default();
    let mut skipped = 0;
    never_panics(&cases, |(pick, damage)| {
        let event = events[pick % events.len()].clone();
        let envelope = Envelope::new("fz", "fuzz", "", event);
        let mut bytes = envelope.encode();
        match damage {
            Damage::None => {}
            Damage::Cut(n) => bytes.truncate(n % (bytes.len() + 1)),
            Damage::Flip(i, x) => {
                let i = i % bytes.len();
                bytes[i] ^= x;
            }
            Damage::Random(r) => bytes = r.clone(),
        }
        let _ = Envelope::decode(&bytes, 1);
    });
    // Through a fold: what does not decode is skipped, and the state is untouched by it.
    for (i, (pick, damage)) in cases.iter().enumerate() {
        let event = events[pick % events.len()].clone();
        let envelope = Envelope::new("fz", "fuzz", "", event);
        let mut bytes = envelope.encode();
        if let Damage::Random(r) = damage {
            bytes = r.clone();
        } else if let Damage::Cut(n) = damage {
            bytes.truncate(n % (bytes.len() + 1));
        }
        let record = Record {
            seq: fold.last_seq + 1,
            subject: subject::for_event("fz", &envelope.event),
            stored: chrono::Utc::now(),
            data: bytes.into(),
        };
        let before = fold.state.clone();
        if fold.record(&record).is_err() {
            skipped += 1;
            assert_eq!(
                fold.state, before,
                "case {i}: an undecodable record changed state"
            );
        }
    }
    assert!(skipped > 0, "no case was undecodable");
    assert_eq!(fold.undecodable.len(), skipped);
}
