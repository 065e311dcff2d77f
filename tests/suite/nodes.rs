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
use common::mkube::MkubeProcess;
use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Node name → its `kubectl get nodes` status word, as `controller` lists them.
async fn statuses(http: &reqwest::Client, controller: &MkubeProcess) -> Vec<(String, String)> {
    let list = controller.get_json(http, "/api/v1/nodes").await;
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"].as_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            (n["metadata"]["name"].as_str().unwrap().to_string(), ready)
        })
        .collect()
}

async fn until_statuses(
    http: &reqwest::Client,
    controller: &MkubeProcess,
    want: &[(&str, &str)],
    secs: u64,
) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = statuses(http, controller).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes: {got:?}, wanted {want:?}\n{}",
            controller.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn kubectl(server: &str, home: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .args(["--server", server])
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl on PATH (scripts/lib.sh ensure_kubectl)");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[actix_rt::test]
async fn each_controller_is_a_node_and_lists_the_fleets_nodes() {
    let nats = NatsServer::start();
    let url = nats.url();
    let http = common::http();
    let (dev_a, dev_b) = (
        Harness::start(Profile::default()).await,
        Harness::start(Profile::default()).await,
    );
    for h in [&dev_a, &dev_b] {
        h.seed(json!({"bridges": ["t"]})).await;
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (rest_a, rest_b) = (dev_a.sim.rest_url(), dev_b.sim.rest_url());
    let a = MkubeProcess::start_config(dir_a.path(), |l| {
        process_config("rack-a", &url, &rest_a, l, 0.5)
    });
    let b = MkubeProcess::start_config(dir_b.path(), |l| {
        process_config("rack-b", &url, &rest_b, l, 0.5)
    });
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;

    // Both controllers list both nodes, Ready (device listed, log answering).
    let both = [("rack-a", "True"), ("rack-b", "True")];
    until_statuses(&http, &a, &both, 20).await;
    until_statuses(&http, &b, &both, 20).await;

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
    let home = tempfile::tempdir().unwrap();
    let out = kubectl(&a.base, home.path(), &["get", "nodes"]);
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
    let wide = kubectl(&b.base, home.path(), &["get", "nodes", "-o", "wide"]);
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
    until_statuses(&http, &b, &b_down, 20).await;
    until_statuses(&http, &a, &b_down, 20).await;
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
    let out = kubectl(&a.base, home.path(), &["get", "nodes"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("rack-b") && l.contains("NotReady")),
        "{out}"
    );
    dev_b.clear_faults().await;
    until_statuses(&http, &a, &both, 20).await;
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
        (reqwest::Method::DELETE, "/api/v1/nodes/solo"),
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
