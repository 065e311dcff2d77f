//! Issue 16, "Faults", against a real three-server NATS JetStream cluster on loopback
//! (`sync_interval: always` on every server): the real `mkube` binary keeps its log in an R3
//! stream (replicas unset → 3 on a cluster); the stream leader is killed during a stream of
//! pod creates, and every create acknowledged before, during or after is present exactly once
//! while nothing refused is; writes resume by themselves; a controller cut off with a
//! minority server refuses writes with 503, still answers reads, and writes again once the
//! partition heals.

use crate::common;
use common::mkube::MkubeProcess;
use common::nats_cluster::{NatsCluster, stream_leader};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const STREAM: &str = "MKUBE_EVENTS";

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

/// POSTs a pod; the HTTP status (0 when the request itself failed).
async fn create(http: &reqwest::Client, mk: &MkubeProcess, name: &str) -> u16 {
    mk.create_pod(http, &pod(name)).await.0
}

async fn listed(http: &reqwest::Client, mk: &MkubeProcess) -> Vec<String> {
    mk.pod_names(http).await
}

/// The pod names declared in the log, in log order (a duplicate would show twice).
fn declared_in_log(url: &str) -> Vec<String> {
    let out = common::mkube::cli(&["replay", "--nats", url, "--format", "json", "--no-state"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "pods.PodDeclared")
        .filter_map(|e| e["payload"]["name"].as_str().map(str::to_string))
        .collect()
}

#[actix_rt::test]
async fn the_stream_leader_killed_during_creates_loses_no_acknowledged_write() {
    let mut cluster = NatsCluster::start(3);
    cluster.wait_jetstream().await;
    let urls = cluster.urls();
    let http = common::http();
    let dir = tempfile::tempdir().unwrap();
    let mut mk = MkubeProcess::start(dir.path(), "fleet", &urls);
    mk.wait_ready(&http).await;

    // Replicas unset: three on a three-server cluster.
    let (leader, replicas) = stream_leader(&cluster.url(0), STREAM)
        .await
        .expect("stream info");
    assert_eq!(replicas, 3, "{}", cluster.logs());

    // A stream of creates, one every 100 ms; the leader is killed after the tenth; it goes on
    // until fifteen more were acknowledged.
    let mut acked = BTreeSet::new();
    let mut refused = BTreeSet::new();
    let mut first_refusal: Option<Instant> = None;
    let mut resumed: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = 0;
    while acked.len() < 25 {
        if i == 10 {
            cluster.kill(cluster.index_of(&leader));
        }
        let name = format!("p{i:03}");
        i += 1;
        match create(&http, &mk, &name).await {
            201 => {
                acked.insert(name);
                if first_refusal.is_some() && resumed.is_none() {
                    resumed = Some(Instant::now());
                }
            }
            code => {
                assert!(
                    code == 503 || code == 0,
                    "{name}: {code} (only 503 while electing)"
                );
                refused.insert(name);
                first_refusal.get_or_insert_with(Instant::now);
            }
        }
        assert!(
            Instant::now() < deadline,
            "writes did not resume; refused: {refused:?}\n{}\n{}",
            mk.log_text(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let (Some(start), Some(end)) = (first_refusal, resumed) {
        eprintln!(
            "writes refused for {:?} ({} creates) after the leader was killed",
            end - start,
            refused.len()
        );
    }

    // Every acknowledged create is listed, nothing refused is; the log agrees, once each.
    let want: Vec<String> = acked.iter().cloned().collect();
    assert_eq!(listed(&http, &mk).await, want);
    cluster.restart(cluster.index_of(&leader));
    cluster.wait_jetstream().await;
    assert!(mk.terminate().success());
    let mk = MkubeProcess::start(dir.path(), "fleet", &urls);
    mk.wait_ready(&http).await;
    assert_eq!(listed(&http, &mk).await, want, "after replay");
    let mut declared = declared_in_log(&urls);
    declared.sort();
    assert_eq!(declared, want, "the log, once each");
}

#[actix_rt::test]
async fn a_controller_with_a_minority_server_refuses_writes_and_resumes_after_the_heal() {
    let mut cluster = NatsCluster::start(3);
    cluster.wait_jetstream().await;
    let http = common::http();
    let dir = tempfile::tempdir().unwrap();
    // This controller knows only the third server.
    let mk = MkubeProcess::start(dir.path(), "edge", &cluster.url(2));
    mk.wait_ready(&http).await;
    assert_eq!(create(&http, &mk, "before").await, 201);

    cluster.restart_partitioned(2);
    // Reads keep working; writes are refused with 503 while its server has no quorum.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let code = create(&http, &mk, "during").await;
        if code == 503 {
            break;
        }
        assert_eq!(code, 0, "a write through a minority server: {code}");
        assert!(Instant::now() < deadline, "{}", mk.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(listed(&http, &mk).await, ["before"]);

    cluster.heal(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match create(&http, &mk, "after").await {
            201 => break,
            409 => break,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "{}\n{}",
            mk.log_text(),
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(listed(&http, &mk).await, ["after", "before"]);
}
