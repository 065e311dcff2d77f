//! Issue 16, "One API for the fleet" (first part): each controller registers itself as a
//! Kubernetes `Node`. Two real `mkube` processes, each with its own simulated device, on one
//! real nats-server: each lists both nodes (`kubectl get nodes`), `Ready` from the device's
//! reachability and the log, capacity from `/system/resource`, RouterOS in `nodeInfo`; a
//! device that stops answering turns its node `NotReady` on both controllers and `Ready` again
//! when it answers; bad requests get a `Status`.

use crate::common;
use crate::engine_support::process_config;
use crate::routeros_support::Harness;
use common::NatsServer;
use common::kubectl::Kubectl;
use common::mkube::MkubeProcess;
use common::nodes::{statuses, until_statuses};
use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Two controllers, `rack-a` and `rack-b`, each with its own simulated device (bridge `t`, the
/// sample tarball on its disk), on one nats-server; both ready.
struct Fleet {
    _nats: NatsServer,
    dev_a: Harness,
    dev_b: Harness,
    a: MkubeProcess,
    b: MkubeProcess,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn two_controllers(http: &reqwest::Client) -> Fleet {
    let nats = NatsServer::start();
    let url = nats.url();
    let (dev_a, dev_b) = (
        Harness::start(Profile::default()).await,
        Harness::start(Profile::default()).await,
    );
    for h in [&dev_a, &dev_b] {
        h.seed(json!({"bridges": ["t"]})).await;
        h.tarball("app", "v1");
    }
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (rest_a, rest_b) = (dev_a.sim.rest_url(), dev_b.sim.rest_url());
    let a = MkubeProcess::start_config(dirs.0.path(), |l| {
        process_config("rack-a", &url, &rest_a, l, 0.5)
    });
    let b = MkubeProcess::start_config(dirs.1.path(), |l| {
        process_config("rack-b", &url, &rest_b, l, 0.5)
    });
    a.wait_ready(http).await;
    b.wait_ready(http).await;
    Fleet {
        _nats: nats,
        dev_a,
        dev_b,
        a,
        b,
        _dirs: dirs,
    }
}

#[actix_rt::test]
async fn each_controller_is_a_node_and_lists_the_fleets_nodes() {
    let http = common::http();
    // Bound whole: dropping a field would stop its NATS server or device.
    let fleet = two_controllers(&http).await;
    let (dev_b, a, b) = (&fleet.dev_b, &fleet.a, &fleet.b);

    // Both controllers list both nodes, Ready (device listed, log answering).
    let both = [("rack-a", "True"), ("rack-b", "True")];
    until_statuses(&http, a, &both, 20).await;
    until_statuses(&http, b, &both, 20).await;

    // One node in full: the device's figures and identity.
    let node = a.get_json(&http, "/api/v1/nodes/rack-b").await;
    assert_eq!(node["kind"], "Node", "{node}");
    assert_eq!(node["apiVersion"], "v1");
    let info = &node["status"]["nodeInfo"];
    assert!(
        info["osImage"].as_str().unwrap().starts_with("RouterOS 7."),
        "{info}"
    );
    assert!(!info["architecture"].as_str().unwrap().is_empty(), "{info}");
    assert!(
        info["kubeletVersion"]
            .as_str()
            .unwrap()
            .starts_with("mkube/")
    );
    assert_ne!(node["status"]["capacity"]["cpu"], Value::Null, "{node}");
    assert_ne!(node["status"]["allocatable"]["memory"], Value::Null);
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "rack-b"
    );
    let addresses = node["status"]["addresses"].as_array().unwrap();
    assert!(
        addresses
            .iter()
            .any(|a| a["type"] == "InternalIP" && a["address"] == "127.0.0.1"),
        "{addresses:?}"
    );
    for kind in ["Ready", "RouterOSReachable", "EventLogAvailable"] {
        assert!(
            node["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["type"] == kind && c["status"] == "True"),
            "{kind}: {node}"
        );
    }

    // kubectl, as a user types it.
    let (ka, kb) = (Kubectl::new(&a.base, &[]), Kubectl::new(&b.base, &[]));
    let out = ka.ok(&["get", "nodes"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("STATUS"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rack-a") && l.contains(" Ready ")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rack-b") && l.contains(" Ready ")),
        "{out}"
    );
    let wide = kb.ok(&["get", "nodes", "-o", "wide"]);
    assert!(wide.contains("RouterOS 7."), "{wide}");
    assert!(wide.contains("127.0.0.1"), "{wide}");

    // rack-b's device stops answering: NotReady on both controllers, saying why; back to
    // Ready once it answers again.
    dev_b
        .fault(
            json!({"method": "GET", "path": "/rest/container", "kind": "error",
            "status": 400, "detail": "failure: device busy"}),
        )
        .await;
    let b_down = [("rack-a", "True"), ("rack-b", "False")];
    until_statuses(&http, b, &b_down, 20).await;
    until_statuses(&http, a, &b_down, 20).await;
    let node = a.get_json(&http, "/api/v1/nodes/rack-b").await;
    let ready = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["reason"], "DeviceUnreachable", "{ready}");
    assert!(
        ready["message"].as_str().unwrap().contains("device busy"),
        "{ready}"
    );
    let out = ka.ok(&["get", "nodes"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("rack-b") && l.contains("NotReady")),
        "{out}"
    );
    dev_b.clear_faults().await;
    until_statuses(&http, a, &both, 20).await;
}

/// Bad requests get a `Status` with the right code; nothing is created.
#[actix_rt::test]
async fn node_requests_outside_get_and_list_are_refused_with_a_status() {
    let nats = NatsServer::start();
    let url = nats.url();
    let http = common::http();
    let dir = tempfile::tempdir().unwrap();
    let a = MkubeProcess::start(dir.path(), "solo", &url);
    a.wait_ready(&http).await;
    let status = |v: &Value, code: u64, reason: &str| {
        assert_eq!(v["kind"], "Status", "{v}");
        assert_eq!(v["code"], code, "{v}");
        assert_eq!(v["reason"], reason, "{v}");
    };
    let r = http.get(a.url("/api/v1/nodes/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    status(&r.json().await.unwrap(), 404, "NotFound");
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/nodes"),
        (reqwest::Method::DELETE, "/api/v1/nodes"),
        (reqwest::Method::PATCH, "/api/v1/nodes/solo"),
        (reqwest::Method::GET, "/api/v1/nodes?watch=true"),
    ] {
        let r = http
            .request(method.clone(), a.url(path))
            .header("content-type", "application/json")
            .body("{\"kind\":\"Node\",\"metadata\":{\"name\":\"x\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        status(&r.json().await.unwrap(), 405, "MethodNotAllowed");
    }
    // Its own node is there, NotReady: this controller's device (127.0.0.1:9) never answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = statuses(&http, &a).await;
        if list == [("solo".to_string(), "False".to_string())] {
            break;
        }
        assert!(Instant::now() < deadline, "{list:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its own node cannot be deleted, nor one that is not there.
    for (path, code, reason) in [
        ("/api/v1/nodes/solo", 409, "Conflict"),
        ("/api/v1/nodes/nope", 404, "NotFound"),
    ] {
        let r = http.delete(a.url(path)).send().await.unwrap();
        assert_eq!(r.status(), code, "{path}");
        status(&r.json().await.unwrap(), code as u64, reason);
    }
    // A router taken out long ago: its entry is still in the node book, 5 minutes old.
    let mut gone = a.get_json(&http, "/api/v1/nodes/solo").await;
    gone["metadata"]["name"] = json!("rack-z");
    for c in gone["status"]["conditions"].as_array_mut().unwrap() {
        c["lastHeartbeatTime"] =
            json!((chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339());
    }
    let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    let book = js.get_key_value("MKUBE_EVENTS_NODES").await.unwrap();
    book.put("rack-z", serde_json::to_vec(&gone).unwrap().into())
        .await
        .unwrap();
    let both = [("rack-z", "Unknown"), ("solo", "False")];
    until_statuses(&http, &a, &both, 20).await;
    let out = Kubectl::new(&a.base, &[]).ok(&["delete", "node", "rack-z"]);
    assert!(out.contains("rack-z"), "{out}");
    assert_eq!(
        statuses(&http, &a).await,
        [("solo".to_string(), "False".to_string())]
    );
    assert!(
        book.get("rack-z").await.unwrap().is_none(),
        "entry still in the book"
    );
    // Not back on the next reads of the book either; a second delete is 404.
    tokio::time::sleep(build_heartbeat()).await;
    assert_eq!(
        statuses(&http, &a).await,
        [("solo".to_string(), "False".to_string())]
    );
    let r = http
        .delete(a.url("/api/v1/nodes/rack-z"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let api = a.get_json(&http, "/api/v1").await;
    assert!(
        api["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "nodes" && r["namespaced"] == false),
        "{api}"
    );
}

/// Pods across the fleet: a pod created through either controller runs on the node its
/// `spec.nodeName` or `nodeSelector` names (carried out by that node's controller), any
/// controller lists the whole fleet's pods with their nodes, and reaches, deletes and reads a
/// pod another node holds; an unknown node is 422, a node that is down 503 naming it, and a
/// list without it says so in a `Warning`.
#[actix_rt::test]
async fn pods_are_placed_listed_and_reached_across_the_fleet() {
    let http = common::http();
    // Bound whole: dropping a field would stop its NATS server or device.
    let mut fleet = two_controllers(&http).await;
    let (dev_a, dev_b) = (&fleet.dev_a, &fleet.dev_b);
    let both = [("rack-a", "True"), ("rack-b", "True")];
    until_statuses(&http, &fleet.a, &both, 20).await;
    until_statuses(&http, &fleet.b, &both, 20).await;

    let pod = |name: &str, spec: Value| {
        let mut p = serde_json::to_value(crate::engine_support::pod(name, &[])).unwrap();
        for (k, v) in spec.as_object().unwrap() {
            p["spec"][k] = v.clone();
        }
        p
    };
    let post = |mk: &MkubeProcess, body: Value| {
        let url = mk.url("/api/v1/namespaces/default/pods");
        let http = http.clone();
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let code = r.status().as_u16();
            (code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Placed by nodeName through a, by nodeSelector through b, and here when neither.
    let (code, body) = post(&fleet.a, pod("on-b", json!({"nodeName": "rack-b"}))).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["spec"]["nodeName"], "rack-b", "{body}");
    let (code, body) = post(
        &fleet.b,
        pod(
            "sel-a",
            json!({"nodeSelector": {"kubernetes.io/hostname": "rack-a"}}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, _) = post(&fleet.a, pod("on-a", json!({}))).await;
    assert_eq!(code, 201);
    let (code, body) = post(&fleet.a, pod("nowhere", json!({"nodeName": "rack-z"}))).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("rack-z"),
        "{body}"
    );

    // A controller never records a pod for another node as its own (here a request marked
    // as forwarded, which the fleet layer leaves to the local handler).
    let r = http
        .post(fleet.a.url("/api/v1/namespaces/default/pods"))
        .header(mkube::api::fleet::FORWARDED, "test")
        .json(&pod("stray", json!({"nodeName": "rack-b"})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Each runs on its node's device, and only there.
    async fn running_on(h: &Harness, pod: &str) -> bool {
        let prefix = format!("default_{pod}_");
        h.client()
            .await
            .list_containers()
            .await
            .unwrap_or_default()
            .iter()
            .any(|c| c.name.starts_with(&prefix) && c.state.is_running())
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let placed = running_on(dev_b, "on-b").await
            && running_on(dev_a, "sel-a").await
            && running_on(dev_a, "on-a").await;
        if placed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pods not running where placed\n{}\n{}",
            fleet.a.log_text(),
            fleet.b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!running_on(dev_a, "on-b").await);
    assert!(!running_on(dev_b, "on-a").await && !running_on(dev_b, "sel-a").await);

    // Either controller lists the fleet, each pod with its node.
    for mk in [&fleet.a, &fleet.b] {
        let list = mk.get_json(&http, "/api/v1/pods").await;
        let mut seen: Vec<(String, String)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["metadata"]["name"].as_str().unwrap().to_string(),
                    p["spec"]["nodeName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("on-a".to_string(), "rack-a".to_string()),
                ("on-b".to_string(), "rack-b".to_string()),
                ("sel-a".to_string(), "rack-a".to_string())
            ]
        );
    }
    let wide = Kubectl::new(&fleet.a.base, &[]).ok(&["get", "pods", "-o", "wide"]);
    assert!(
        wide.lines()
            .any(|l| l.starts_with("on-b") && l.contains("rack-b")),
        "{wide}"
    );

    // A pod on b, read and deleted through a.
    let got = fleet
        .a
        .get_json(&http, "/api/v1/namespaces/default/pods/on-b")
        .await;
    assert_eq!(got["spec"]["nodeName"], "rack-b", "{got}");
    let r = http
        .delete(fleet.a.url("/api/v1/namespaces/default/pods/on-b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while running_on(dev_b, "on-b").await {
        assert!(Instant::now() < deadline, "on-b still on rack-b's device");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // b goes down: a refuses to place a pod there, naming it, and lists b's pods as b's log
    // last recorded them, without claiming a status nobody saw.
    let (code, body) = post(&fleet.a, pod("keep-b", json!({"nodeName": "rack-b"}))).await;
    assert_eq!(code, 201, "{body}");
    fleet.b.kill();
    let (code, body) = post(&fleet.a, pod("late", json!({"nodeName": "rack-b"}))).await;
    assert_eq!(code, 503, "{body}");
    // Its entry is fresh for 40 s: it is not taken out of the fleet yet.
    let r = http
        .delete(fleet.a.url("/api/v1/nodes/rack-b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(
        body["message"].as_str().unwrap().contains("rack-b"),
        "{body}"
    );
    let r = http.get(fleet.a.url("/api/v1/pods")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let warning = r
        .headers()
        .get("warning")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(warning.contains("rack-b"), "{warning:?}");
    assert!(warning.contains("NodeLost"), "{warning:?}");
    let list: Value = r.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list}");
    let lost = items
        .iter()
        .find(|p| p["metadata"]["name"] == "keep-b")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(lost["spec"]["nodeName"], "rack-b", "{lost}");
    assert_eq!(lost["status"]["phase"], "Unknown", "{lost}");
    assert_eq!(lost["status"]["reason"], "NodeLost", "{lost}");
    assert!(lost["status"]["containerStatuses"].is_null(), "{lost}");
    // Namespaced, selected by field, and as kubectl's table.
    let on_b = fleet
        .a
        .get_json(
            &http,
            "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Drack-b",
        )
        .await;
    let names: Vec<&str> = on_b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["keep-b"], "{on_b}");
    let table = Kubectl::new(&fleet.a.base, &[]).ok(&["get", "pods"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("keep-b") && l.contains("NodeLost")),
        "{table}"
    );
    // One pod of b: read from b's log; a change to it, or its log, 503 naming b; a pod no
    // log has stays 404.
    let got = fleet
        .a
        .get_json(&http, "/api/v1/namespaces/default/pods/keep-b")
        .await;
    assert_eq!(got["status"]["reason"], "NodeLost", "{got}");
    let described = Kubectl::new(&fleet.a.base, &[]).ok(&["get", "pod", "keep-b"]);
    assert!(described.contains("NodeLost"), "{described}");
    for (method, path) in [
        ("DELETE", "/api/v1/namespaces/default/pods/keep-b"),
        ("GET", "/api/v1/namespaces/default/pods/keep-b/log"),
    ] {
        let r = http
            .request(method.parse().unwrap(), fleet.a.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("rack-b"),
            "{body}"
        );
    }
    let r = http
        .get(fleet.a.url("/api/v1/namespaces/default/pods/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Read apart: a's own pods are still only its own.
    let own: Value = http
        .get(fleet.a.url("/api/v1/pods"))
        .header(mkube::api::fleet::FORWARDED, "test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["items"].as_array().unwrap().len(), 2, "{own}");
}

/// How often a controller posts its node (and reads the others').
fn build_heartbeat() -> Duration {
    mkube::actors::nodes::build::HEARTBEAT + Duration::from_secs(1)
}
