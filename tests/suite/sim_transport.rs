//! Transport options: HTTPS, serial mode and the concurrency limit (spec §5, §5.2).

use crate::sim_common;

use std::time::{Duration, Instant};

use mkube::sim::routeros::{Profile, SimOptions};
use serde_json::json;
use sim_common::{s, start, start_with};

#[actix_rt::test]
async fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    // Self-signed, as devices usually are.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut opts = SimOptions::new(dir.path().join("disk"));
    opts.tls = Some((cert.pem().into_bytes(), key.serialize_pem().into_bytes()));
    let sim = mkube::sim::routeros::start(opts).await.unwrap();
    assert!(sim.rest_url().starts_with("https://127.0.0.1:"));
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let v: serde_json::Value = http
        .get(format!("{}/system/resource", sim.rest_url()))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s(&v, "board-name"), "RDS2216");
    sim.stop().await;
}

async fn four_parallel(sim: &sim_common::Sim) -> Duration {
    let t = Instant::now();
    let reqs = (0..4).map(|_| sim.get("/system/resource"));
    for (st, _) in futures::future::join_all(reqs).await {
        assert_eq!(st, 200);
    }
    t.elapsed()
}

#[actix_rt::test]
async fn serial_mode_and_concurrency_limit_queue_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(dir.path().join("disk"));
    opts.serial = true;
    opts.latency = Duration::from_millis(40);
    let sim = start_with(opts, dir).await;
    assert!(four_parallel(&sim).await >= Duration::from_millis(160));
    sim.stop().await;

    let sim = start(Profile::V7_22).await;
    sim.knobs(json!({"latencyMs": 40})).await;
    assert!(four_parallel(&sim).await < Duration::from_millis(150));
    sim.knobs(json!({"concurrencyLimit": 1})).await;
    assert!(four_parallel(&sim).await >= Duration::from_millis(160));
    sim.stop().await;
}
