//! Pod status from the device (controller.md §3.6, issue 11 item 3): what the reconcile pass
//! and the watchdog last listed overrides what the log hoped — a stopped container is
//! `terminated`, a missing one or an unreachable device `ContainerNotFound`, none of them
//! ready — and a watch sees each change as `MODIFIED` without anything appended to the log.

use crate::common::api::Api;
use crate::engine_support::*;
use futures::StreamExt;
use mkube::config::Config;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const UNIT: &str = "default_web_app";
const POD: &str = "/api/v1/namespaces/default/pods/web";

/// Watchdog every second, keepalive cooldown `cooldown` s.
fn watched(cfg: &mut Config, cooldown: u64) {
    cfg.lifecycle.watchdog_interval_seconds = 1;
    cfg.lifecycle.restart_cooldown = cooldown;
    cfg.lifecycle.max_restarts = 10;
}

/// A pod as a user writes it: no `restartPolicy` (issue 11 item 2: it defaults to Always).
fn user_pod() -> Value {
    let mut p = serde_json::to_value(pod("web", &[])).unwrap();
    p["spec"].as_object_mut().unwrap().remove("restartPolicy");
    p
}

/// Lines of a watch, collected in the background.
struct Watch {
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Watch {
    fn start(api: &Api, query: &str) -> Watch {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let req = api.http.get(api.url(&format!(
            "/api/v1/namespaces/default/pods?watch=true{query}"
        )));
        actix_rt::spawn(async move {
            let resp = req.send().await.expect("watch");
            let mut body = resp.bytes_stream();
            let mut buf = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.extend_from_slice(&chunk);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                        sink.lock().unwrap().push(v);
                    }
                }
            }
        });
        Watch { lines }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(v) = self.lines().into_iter().find(|v| f(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "watch never saw {what}: {:#?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn container(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

fn terminated(pod: &Value) -> bool {
    container(pod)["state"]["terminated"]["reason"] == "Stopped"
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && container(pod)["ready"] == true
}

fn ready_condition(pod: &Value) -> Value {
    pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()["status"]
        .clone()
}

async fn wait_get(api: &Api, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, pod) = api.get(POD).await;
        if f(&pod) {
            return pod;
        }
        assert!(Instant::now() < deadline, "never saw {what}: {pod:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Issue 11, tests that must exist: a crash on the simulated device of a container whose pod
// has no restartPolicy — the status shows it down, keepalive restarts it (LC-3), restartCount
// goes up, and a watch sees both changes.
#[actix_rt::test]
async fn a_crashed_container_shows_down_and_keepalive_brings_it_back() {
    let mut env = env().await;
    watched(&mut env.cfg, 3);
    let api = Api::start_with(env.cfg.clone()).await;
    let (code, created) = api
        .post("/api/v1/namespaces/default/pods", &user_pod())
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["restartPolicy"], "Always", "defaulted");
    let up = wait_get(&api, "running", running).await;
    assert_eq!(container(&up)["restartCount"], 0);
    let watch = Watch::start(
        &api,
        &format!(
            "&resourceVersion={}",
            up["metadata"]["resourceVersion"].as_str().unwrap()
        ),
    );
    let appended = api.last_seq().await;

    // First crash: keepalive starts it again once the watchdog sees it stopped.
    env.h.crash(UNIT).await;
    let back = wait_get(&api, "restarted once", |p| {
        running(p) && container(p)["restartCount"] == 1
    })
    .await;
    // Second crash at once: the cooldown keeps it down long enough to read.
    env.h.crash(UNIT).await;
    let down = wait_get(&api, "shown stopped", terminated).await;
    assert_eq!(container(&down)["ready"], false);
    assert_eq!(down["status"]["phase"], "Pending");
    assert_eq!(ready_condition(&down), "False");
    assert_eq!(container(&down)["restartCount"], 1);
    assert_eq!(
        container(&down)["containerID"],
        container(&back)["containerID"]
    );
    // kubectl's table says so too.
    let table: Value = api
        .http
        .get(api.url(POD))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cells = &table["rows"][0]["cells"];
    assert_eq!(
        (cells[1].clone(), cells[2].clone()),
        (json!("0/1"), json!("Stopped")),
        "{table:#}"
    );
    wait_get(&api, "restarted twice", |p| {
        running(p) && container(p)["restartCount"] == 2
    })
    .await;

    // The watch saw it go down, its count go up, and it come back, in that order.
    let lines = watch.lines();
    let pods: Vec<&Value> = lines.iter().map(|l| &l["object"]).collect();
    let first_down = pods
        .iter()
        .position(|p| terminated(p))
        .expect("saw it stopped");
    let counted = pods
        .iter()
        .position(|p| container(p)["restartCount"] == 1)
        .expect("saw the restart count");
    let last_up = pods
        .iter()
        .rposition(|p| running(p))
        .expect("saw it running");
    assert!(first_down < last_up && counted < last_up, "{lines:#?}");
    assert!(lines.iter().all(|l| l["type"] == "MODIFIED"), "{lines:#?}");
    // Observation changes carry <seq>.<generation>; they appended nothing.
    let down_line = lines.iter().find(|l| terminated(&l["object"])).unwrap();
    let rv = down_line["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap();
    assert!(rv.contains('.'), "{rv}");
    let kinds = log_kinds(&env.cfg).await.0;
    let after: Vec<&String> = kinds.iter().skip(appended as usize).collect();
    assert!(
        after.iter().all(|k| k.starts_with("lifecycle.")),
        "only the restarts were recorded: {after:?}"
    );

    // A watch resumed from the version of the line that showed it down gets what came after.
    let resumed = Watch::start(&api, &format!("&resourceVersion={rv}"));
    resumed
        .wait_for("running again", |l| running(&l["object"]))
        .await;
    assert!(!resumed.lines().iter().any(|l| l["type"] == "ADDED"));
    api.stop().await;
}

// §3.6: a container gone from the device is ContainerNotFound; a device that cannot be listed
// shows its error; a reconcile pass recreates what is missing and the status follows.
#[actix_rt::test]
async fn missing_containers_and_an_unreachable_device_are_shown() {
    let mut env = env().await;
    // Keepalive out of the way: only the listing matters here.
    watched(&mut env.cfg, 3600);
    let api = Api::start_with(env.cfg.clone()).await;
    assert_eq!(
        api.post("/api/v1/namespaces/default/pods", &user_pod())
            .await
            .0,
        201
    );
    wait_get(&api, "running", running).await;

    let ros = ros(&env.h).await;
    ros.delete_container(UNIT).await.unwrap();
    let gone = wait_get(&api, "not found", |p| {
        container(p)["state"]["waiting"]["reason"] == "ContainerNotFound"
    })
    .await;
    assert!(
        container(&gone)["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .contains(UNIT),
        "{gone:#}"
    );
    assert_eq!(gone["status"]["phase"], "Pending");

    // The pass recreates it (§5 step 3b); the status is the device's again.
    pass(&api.cluster).await;
    wait_get(&api, "recreated", running).await;

    env.h
        .fault(json!({"method": "GET", "path": "/rest/container", "kind": "error", "status": 500}))
        .await;
    let blind = wait_get(&api, "unreachable", |p| {
        container(p)["state"]["waiting"]["reason"] == "ContainerNotFound"
    })
    .await;
    assert!(
        !container(&blind)["state"]["waiting"]["message"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    env.h.clear_faults().await;
    wait_get(&api, "listed again", running).await;
    api.stop().await;
}

// allowWatchBookmarks: a BOOKMARK carrying a resumable version before a timed-out watch ends.
#[actix_rt::test]
async fn watches_send_bookmarks_when_asked() {
    let env = env().await;
    let api = Api::start_with(env.cfg.clone()).await;
    assert_eq!(
        api.post("/api/v1/namespaces/default/pods", &user_pod())
            .await
            .0,
        201
    );
    for path in [
        "/api/v1/namespaces/default/pods",
        "/api/v1/configmaps",
        "/api/v1/events",
    ] {
        let body = api
            .http
            .get(api.url(&format!(
                "{path}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
            )))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let last: Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
        assert_eq!(last["type"], "BOOKMARK", "{path}: {body}");
        let rv = last["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap();
        assert!(rv.parse::<u64>().is_ok(), "{rv}");
        // Without the flag, none.
        let plain = api
            .http
            .get(api.url(&format!("{path}?watch=true&timeoutSeconds=1")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!plain.contains("BOOKMARK"), "{path}: {plain}");
    }
    api.stop().await;
}
