//! Fuzzing what the RouterOS client reads (issue 17): a loopback server answers every call
//! but the connect's `/system/resource` with a generated answer — the device's own tables
//! (read from the simulator) with fields removed, replaced by any JSON or joined by unknown
//! keys, cut short, declared longer than sent, random bytes, under 200 or an error status.
//! The microdns client likewise, from the double's own zone and record lists. Every call
//! returns a value or an error, never a panic and never a hang.

use crate::consistency_support::plant_orphan_on;
use crate::engine_support::config as engine_config;
use crate::fuzz_support::*;
use crate::routeros_support::Harness;
use mkube::microdns::MicrodnsClient;
use mkube::routeros::{ClientOptions, Pacing, RosClient};
use mkube::sim::microdns::{self, MicrodnsSimOptions};
use mkube::sim::routeros::Profile;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// An answer made from one of `tables`: as it is, mutated, cut, or replaced by random bytes
/// or any JSON; mostly under 200, sometimes an error status; sometimes declared longer.
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

#[actix_rt::test]
async fn generated_device_answers_are_values_or_errors_never_panics() {
    let (resource, tables) = real_tables().await;
    let current = Arc::new(Mutex::new(Answer::default()));
    let resource = Answer {
        status: 200,
        body: resource.to_string().into_bytes(),
        missing: 0,
    };
    let url = format!(
        "{}/rest",
        serve(vec![(" /rest/system/resource ", resource)], current.clone()).await
    );
    let mut options = ClientOptions::new(url, "admin", "");
    options.pacing = Pacing::scaled(0.001);
    options.container_cache_ttl = Duration::ZERO;
    options.request_timeout = Duration::from_secs(5);
    let client = Arc::new(RosClient::connect(options).await.expect("connects"));
    let cases = draw(answers(tables), case_count());
    let errors = each_answer(&cases, &current, || {
        let c = client.clone();
        async move {
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
        }
    })
    .await;
    eprintln!("{} answers, {errors} calls failed cleanly", cases.len());
    assert!(errors > 0);
}

/// The double's zone list and record pages, with one zone of mkube's and a few records.
async fn real_dns_answers() -> Vec<Value> {
    let sim = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let zone = sim.seed_zone("t.lo");
    for (i, name) in ["web", "db", "*.apps"].iter().enumerate() {
        sim.seed_record(&zone, name, "A", json!(format!("127.77.0.{}", i + 10)), 60);
    }
    let http = crate::common::http();
    let mut out = Vec::new();
    for path in [
        "/api/v1/zones".to_string(),
        format!("/api/v1/zones/{zone}/records"),
    ] {
        let url = format!("{}{path}", sim.endpoint());
        out.push(http.get(url).send().await.unwrap().json().await.unwrap());
    }
    out
}

#[actix_rt::test]
async fn generated_microdns_answers_are_values_or_errors_never_panics() {
    let tables = real_dns_answers().await;
    let current = Arc::new(Mutex::new(Answer::default()));
    let endpoint = serve(Vec::new(), current.clone()).await;
    let client = Arc::new(MicrodnsClient::new().unwrap());
    let cases = draw(answers(tables), case_count());
    let errors = each_answer(&cases, &current, || {
        let (c, e) = (client.clone(), endpoint.clone());
        async move {
            let mut failed = 0;
            failed += c.list_zones(&e).await.is_err() as usize;
            failed += c.list_records(&e, "z1").await.is_err() as usize;
            failed += c.ensure_zone(&e, "t.lo").await.is_err() as usize;
            failed += c
                .create_a_record(&e, "z1", "web", "127.77.0.9", 60)
                .await
                .is_err() as usize;
            failed += c.delete_record(&e, "z1", "r1").await.is_err() as usize;
            failed += c.health(&e).await.is_err() as usize;
            failed
        }
    })
    .await;
    eprintln!("{} answers, {errors} calls failed cleanly", cases.len());
    assert!(errors > 0);
}

/// Makes each case the server's answer in turn and runs `calls` against it; a panic or a
/// hang fails the test naming the case. The calls that failed cleanly, summed.
async fn each_answer<F, Fut>(cases: &[Answer], current: &Arc<Mutex<Answer>>, calls: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize> + Send + 'static,
{
    let mut errors = 0;
    for (i, answer) in cases.iter().enumerate() {
        *current.lock().unwrap() = answer.clone();
        let body = String::from_utf8_lossy(&answer.body).to_string();
        match tokio::time::timeout(Duration::from_secs(60), tokio::spawn(calls())).await {
            Ok(Ok(failed)) => errors += failed,
            Ok(Err(e)) => panic!("case {i} {answer:?} ({body}): {e}"),
            Err(_) => panic!("case {i} {answer:?} ({body}): calls did not end"),
        }
    }
    errors
}
