//! Generated input for the fuzz tests (issue 17): seeded proptest strategies whose cases are
//! drawn up front and then sent through real sockets, so every run of `scripts/test` tries
//! the same bounded set (`MKUBE_FUZZ_CASES`, default 300 per test; `MKUBE_FUZZ_SEED` picks
//! another set).
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many cases each fuzz test draws.
pub fn case_count() -> usize {
    std::env::var("MKUBE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// `n` cases of `strategy`, the same ones for the same `MKUBE_FUZZ_SEED`.
pub fn draw<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let seed: u64 = std::env::var("MKUBE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(17);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy draws")
                .current()
        })
        .collect()
}

/// Short strings with the characters that break parsers: quotes, slashes, control
/// characters, non-ASCII, percent signs.
pub fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{0,12}",
        ".{0,24}",
        Just(String::new()),
        Just("a".repeat(300)),
        Just("../../etc/passwd".to_string()),
        Just("%00%ff\u{0}\u{7f}\"'\\".to_string()),
        Just("ünï😀".to_string()),
    ]
}

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a JSON document: at the `n`-th node (modulo their count), remove it, put
/// another value there, or add an unknown key beside it.
#[derive(Debug, Clone)]
pub enum Mutation {
    Remove(usize),
    Replace(usize, Value),
    AddKey(usize, String, Value),
}

pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), any_json()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        (any::<usize>(), nasty_string(), any_json())
            .prop_map(|(n, k, v)| Mutation::AddKey(n, k, v)),
    ];
    prop::collection::vec(one, 1..4)
}

/// `doc` with `changes` applied.
pub fn mutate(mut doc: Value, changes: &[Mutation]) -> Value {
    for change in changes {
        let pointers = pointers(&doc);
        let at = |n: usize| pointers[n % pointers.len()].clone();
        match change {
            Mutation::Remove(n) => remove(&mut doc, &at(*n)),
            Mutation::Replace(n, v) => {
                if let Some(slot) = doc.pointer_mut(&at(*n)) {
                    *slot = v.clone();
                }
            }
            Mutation::AddKey(n, k, v) => {
                if let Some(Value::Object(m)) = doc.pointer_mut(&at(*n)) {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
    }
    doc
}

/// Every node's JSON pointer, the root ("") first.
fn pointers(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let token = k.replace('~', "~0").replace('/', "~1");
                    walk(child, format!("{at}/{token}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, String::new(), &mut out);
    out
}

fn remove(doc: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = key.parse::<usize>()
                && i < items.len()
            {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Bytes that are sometimes almost JSON: cut documents, random bytes, and valid JSON.
pub fn raw_body(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    let text = valid.to_string();
    let len = text.len();
    prop_oneof![
        (0..len).prop_map(move |n| text.as_bytes()[..n].to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
        any_json().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// One answer of a fuzzed server.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// Declare this many more bytes than are sent, then close.
    pub missing: usize,
}

/// A loopback HTTP server for fuzzing clients: a request whose head contains one of `fixed`'s
/// fragments (e.g. `" /rest/system/resource "`) gets that answer, any other the `current` one.
/// One request per connection. Returns `http://127.0.0.1:<port>`.
pub async fn serve(fixed: Vec<(&'static str, Answer)>, current: Arc<Mutex<Answer>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fixed = Arc::new(fixed);
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let (fixed, current) = (fixed.clone(), current.clone());
            tokio::spawn(answer_one(conn, fixed, current));
        }
    });
    base
}

async fn answer_one(
    mut conn: tokio::net::TcpStream,
    fixed: Arc<Vec<(&'static str, Answer)>>,
    current: Arc<Mutex<Answer>>,
) {
    let mut buf = vec![0u8; 65536];
    let mut got = 0;
    // Up to the end of the head; the bodies clients send here are small.
    while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf[got..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => got += n,
        }
        if got == buf.len() {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf[..got]).to_string();
    let answer = fixed
        .iter()
        .find(|(fragment, _)| head.contains(fragment))
        .map(|(_, a)| a.clone())
        .unwrap_or_else(|| current.lock().unwrap().clone());
    let reply = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        answer.status,
        answer.body.len() + answer.missing
    );
    let _ = conn.write_all(reply.as_bytes()).await;
    let _ = conn.write_all(&answer.body).await;
    let _ = conn.shutdown().await;
}

#[test]
fn mutations_land_inside_the_document() {
    let doc = serde_json::json!({"a": {"b": [1, 2]}, "c": "x"});
    assert_eq!(pointers(&doc), ["", "/a", "/a/b", "/a/b/0", "/a/b/1", "/c"]);
    let out = mutate(doc.clone(), &[Mutation::Remove(3)]);
    assert_eq!(out, serde_json::json!({"a": {"b": [2]}, "c": "x"}));
    let out = mutate(doc, &[Mutation::Replace(5, Value::Null)]);
    assert_eq!(out["c"], Value::Null);
}
