//! Boot as a supervisor sees it: `BOOT:` phases with timings, JSON logs on request, a final
//! snapshot on SIGTERM that the next boot starts from.

use crate::common;

use common::mkube::{MkubeProcess, config_text};
use common::{NatsServer, cluster};
use serde_json::{Value, json};

#[actix_rt::test]
async fn clean_shutdown_snapshots_and_the_next_boot_starts_from_it() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let text = |listen: &str| config_text(cluster::NODE, &url, listen, "");
    let http = common::http();

    let mut first = MkubeProcess::start_env(dir.path(), text, &[("MKUBE_LOG_FORMAT", "json")]);
    first.wait_ready(&http).await;
    let pod = json!({"metadata": {"name": "keep"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let created = http
        .post(first.url("/api/v1/namespaces/default/pods"))
        .json(&pod)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(first.terminate().success(), "clean exit on SIGTERM");

    let lines: Vec<Value> = first
        .log_text()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect();
    let boot: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("BOOT: "))
        })
        .collect();
    let phases: Vec<&str> = boot
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap())
        .collect();
    for phase in [
        "BOOT: config loaded",
        "BOOT: HTTP listening",
        "BOOT: NATS connected",
        "BOOT: replay complete",
        "BOOT: actors started",
    ] {
        assert!(phases.contains(&phase), "missing {phase} in {phases:?}");
    }
    for l in &boot {
        assert!(
            l["fields"]["phase_ms"].is_u64() && l["fields"]["total_ms"].is_u64(),
            "{l}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "final snapshot written" && l["fields"]["seq"] == 1)
    );

    let second = MkubeProcess::start_env(dir.path(), text, &[]);
    second.wait_ready(&http).await;
    let log = second.log_text();
    assert!(
        log.contains("replayed from snapshot") && log.contains("snapshot_seq=1"),
        "{log}"
    );
    let got = http
        .get(second.url("/api/v1/namespaces/default/pods/keep"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let metrics = second.get_text(&http, "/metrics").await;
    for name in [
        "mkube_replay_duration_seconds",
        "mkube_snapshot_age_seconds",
        "mkube_nats_connected 1",
        "mkube_append_latency_seconds_count",
    ] {
        assert!(metrics.contains(name), "missing {name}");
    }
}

/// A crash (SIGKILL) loses nothing acknowledged: the next boot replays it from the log.
#[actix_rt::test]
async fn a_killed_controller_replays_everything_it_acknowledged() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let http = common::http();
    let mut first = MkubeProcess::start(dir.path(), cluster::NODE, &nats.url());
    first.wait_ready(&http).await;
    for i in 0..5 {
        let pod = json!({"metadata": {"name": format!("p{i}")}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let r = http
            .post(first.url("/api/v1/namespaces/default/pods"))
            .json(&pod)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    first.kill();
    let second = MkubeProcess::start(dir.path(), cluster::NODE, &nats.url());
    second.wait_ready(&http).await;
    let list: Value = second.get_json(&http, "/api/v1/pods").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
}

// A watch never ends by itself; SIGTERM must not wait for it (actix would for 30 s, and a
// supervisor such as scripts/demo kills a process that takes 15 s, losing its snapshot).
#[actix_rt::test]
async fn sigterm_does_not_wait_for_open_watches() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let text = |listen: &str| config_text(cluster::NODE, &url, listen, "");
    let http = common::http();
    let mut mk = MkubeProcess::start_config(dir.path(), text);
    mk.wait_ready(&http).await;
    let watch = http
        .get(mk.url("/api/v1/pods?watch=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 200);
    let started = std::time::Instant::now();
    assert!(mk.terminate().success(), "clean exit on SIGTERM");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(12),
        "took {:?} with a watch open",
        started.elapsed()
    );
    assert!(mk.log_text().contains("final snapshot written"));
    drop(watch);
}
