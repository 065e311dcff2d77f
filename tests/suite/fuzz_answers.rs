//! Fuzzing what the RouterOS client reads (issue 17): a loopback server answers every call
//! but the connect's `/system/resource` with a generated answer — the device's own tables
//! (read from the simulator) with fields removed, replaced by any JSON or joined by unknown
//! keys, cut short, declared longer than sent, random bytes, under 200 or an error status.
//! Every call returns a value or an error, never a panic.

use crate::consistency_support::plant_orphan_on;
use crate::engine_support::config as engine_config;
use crate::fuzz_support::*;
use crate::routeros_support::Harness;
use mkube::routeros::{ClientOptions, Pacing, RosClient};
use mkube::sim::routeros::Profile;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One generated answer.
#[derive(Debug, Clone, Default)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    /// Declare this many more bytes than are sent, then close.
    missing: usize,
}

/// The device's real tables, as the simulator answers them with one pod's objects planted.
async fn real_tables() -> (Value, Vec<Value>) {
    let h = Harness::start(Profile::default()).await;
    h.seed(json!({"bridges": ["t"]})).await;
    h.tarball("app", "v1");
    let cfg = engine_config("nats://127.0.0.1:1", &h.sim.rest_url());
    plant_orphan_on(&h, &cfg, "default", "fz", "127.77.0.30/24").await;
    let c = h.client().await;
    let resource = c.get_raw("/system/resource", &[]).await.unwrap();
    let mut tables = Vec::new();
    for path in [
        "/container",
        "/interface/veth",
        "/interface/bridge/port",
        "/ip/address",
        "/container/mounts",
        "/file",
    ] {
        tables.push(c.get_raw(path, &[]).await.unwrap());
    }
    (resource, tables)
}

fn answers(tables: Vec<Value>) -> impl Strategy<Value = Answer> {
    let status = prop_oneof![6 => Just(200u16), 1 => Just(400u16), 1 => Just(404u16), 1 => Just(500u16), 1 => Just(503u16)];
    let body = (
        any::<usize>(),
        prop_oneof![mutations().prop_map(Some), Just(None),],
        0usize..1000,
        0u8..4,
    )
        .prop_flat_map(move |(pick, m, cut, how)| {
            let table = tables[pick % tables.len()].clone();
            let doc = match &m {
                Some(m) => mutate(table, m),
                None => table,
            };
            let text = doc.to_string().into_bytes();
            match how {
                0 => Just(text).boxed(),
                1 => Just(text[..text.len() * cut / 1000].to_vec()).boxed(),
                2 => prop::collection::vec(any::<u8>(), 0..80).boxed(),
                _ => any_json().prop_map(|v| v.to_string().into_bytes()).boxed(),
            }
        });
    (
        status,
        body,
        prop_oneof![4 => Just(0usize), 1 => 1usize..500],
    )
        .prop_map(|(status, body, missing)| Answer {
            status,
            body,
            missing,
        })
}

/// Serves `resource` for `/system/resource` and the current answer for everything else.
async fn serve(resource: Value, current: Arc<Mutex<Answer>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rest", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let resource = resource.to_string().into_bytes();
            let current = current.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                // One request per connection: read until the head ends (bodies are small).
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
                let answer = if head.contains(" /rest/system/resource ") {
                    Answer {
                        status: 200,
                        body: resource,
                        missing: 0,
                    }
                } else {
                    current.lock().unwrap().clone()
                };
                let reply = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.status,
                    answer.body.len() + answer.missing
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.write_all(&answer.body).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    url
}

#[actix_rt::test]
async fn generated_device_answers_are_values_or_errors_never_panics() {
    let (resource, tables) = real_tables().await;
    let current = Arc::new(Mutex::new(Answer::default()));
    let url = serve(resource, current.clone()).await;
    let mut options = ClientOptions::new(url, "admin", "");
    options.pacing = Pacing::scaled(0.001);
    options.container_cache_ttl = Duration::ZERO;
    options.request_timeout = Duration::from_secs(5);
    let client = Arc::new(RosClient::connect(options).await.expect("connects"));
    let cases = draw(answers(tables), case_count());
    let mut errors = 0;
    for (i, answer) in cases.iter().enumerate() {
        *current.lock().unwrap() = answer.clone();
        let c = client.clone();
        let calls = tokio::spawn(async move {
            let mut failed = 0;
            failed += c.list_containers().await.is_err() as usize;
            failed += c.find_container("default_fz_app").await.is_err() as usize;
            failed += c.list_veths().await.is_err() as usize;
            failed += c.list_bridge_ports().await.is_err() as usize;
            failed += c.list_ip_addresses().await.is_err() as usize;
            failed += c
                .files_named(&["raid1/cache/app.tar".to_string()])
                .await
                .is_err() as usize;
            failed += c.remove_veth("veth_default_fz_0").await.is_err() as usize;
            failed
        });
        match tokio::time::timeout(Duration::from_secs(60), calls).await {
            Ok(Ok(failed)) => errors += failed,
            Ok(Err(e)) => panic!(
                "case {i} {answer:?} ({}): {e}",
                String::from_utf8_lossy(&answer.body)
            ),
            Err(_) => panic!("case {i} {answer:?}: calls did not end"),
        }
    }
    eprintln!("{} answers, {errors} calls failed cleanly", cases.len());
    assert!(errors > 0);
}
