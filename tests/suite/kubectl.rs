//! `kubectl` (the real client, v1.32) against the real `mkube` binary and a real nats-server:
//! what users type (controller.md §9, API-1…API-6, §3.6, §3.7). No kubeconfig: every call is
//! `--server` (plus `--token`, `--insecure-skip-tls-verify` for the TLS listener), with a
//! temporary HOME so discovery caches never leak between tests.

use crate::common;

use common::NatsServer;
use common::cluster::NODE;
use common::kubectl::Kubectl;
use common::mkube::{MkubeProcess, config_text};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
    - name: web
      image: 127.0.0.1:5000/web:v1
      command: ["/bin/web", "-p", "80"]
"#;

const DB: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: db, image: "127.0.0.1:5000/db:v1"}]
"#;

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[actix_rt::test]
async fn kubectl_drives_pods_end_to_end() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mk = MkubeProcess::start(dir.path(), NODE, &nats.url());
    mk.wait_ready(&common::http()).await;
    let k = Kubectl::new(&mk.base, &[]);
    let pod = write(dir.path(), "pod.yaml", POD);
    let db = write(dir.path(), "db.yaml", DB);

    // apply (client-side): GET 404, then POST with fieldValidation=Strict (openapi v3 stub).
    assert!(k.ok(&["apply", "-f", &pod]).contains("pod/web created"));
    // get: the server's Table (§9).
    let table = k.ok(&["get", "pods"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(
        words(rows[0]),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert_eq!(
        &words(rows[1])[..4],
        ["web", "0/1", "ContainerCreating", "0"]
    );
    let wide = k.ok(&["get", "pods", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().contains("IP"), "{wide}");
    assert!(wide.lines().nth(1).unwrap().ends_with(NODE), "{wide}");
    let yaml = k.ok(&["get", "pod", "web", "-o", "yaml"]);
    for needle in [
        "name: web",
        "namespace: default",
        "resourceVersion: \"1\"",
        "uid: ",
        "creationTimestamp:",
        "phase: Pending",
        "kubectl.kubernetes.io/last-applied-configuration",
    ] {
        assert!(yaml.contains(needle), "{needle} missing:\n{yaml}");
    }
    // apply again with a change: a strategic merge patch, kept as a merge by container name.
    let v2 = write(dir.path(), "pod2.yaml", &POD.replace("web:v1", "web:v2"));
    assert!(k.ok(&["apply", "-f", &v2]).contains("pod/web configured"));
    let image = k.ok(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.spec.containers[0].image} {.spec.containers[0].command[0]}",
    ]);
    assert_eq!(image, "127.0.0.1:5000/web:v2 /bin/web");
    // describe: the pod and its events (§3.7), found by involvedObject field selectors.
    let described = k.ok(&["describe", "pod", "web"]);
    for needle in ["Name:", "web", "Node:", NODE, "Events:", "Scheduled"] {
        assert!(described.contains(needle), "{needle} missing:\n{described}");
    }

    // label (merge patch), patch (strategic by default), replace (PUT of the live object).
    assert!(
        k.ok(&["label", "pod", "web", "tier=front"])
            .contains("labeled")
    );
    let patch = r#"{"spec":{"containers":[{"name":"web","image":"127.0.0.1:5000/web:v3"}]}}"#;
    assert!(
        k.ok(&["patch", "pod", "web", "-p", patch])
            .contains("patched")
    );
    let live = k.ok(&["get", "pod", "web", "-o", "yaml"]);
    let live = write(dir.path(), "live.yaml", &live.replace("web:v3", "web:v4"));
    assert!(k.ok(&["replace", "-f", &live]).contains("replaced"));
    let fields = k.ok(&[
        "get",
        "pod",
        "web",
        "-o",
        "jsonpath={.metadata.labels.tier} {.spec.containers[0].image} {.spec.containers[0].command[2]}",
    ]);
    assert_eq!(fields, "front 127.0.0.1:5000/web:v4 80");
    assert!(k.ok(&["get", "pods", "-l", "tier=front"]).contains("web"));
    assert!(k.ok(&["get", "pods", "-l", "tier=back"]).is_empty());

    // get -w: the current table, then a new pod as it is created (API-3).
    let mut watch = k
        .command(&["get", "pods", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(15))
            .expect("a watch line")
    };
    assert!(next().starts_with("NAME"));
    assert!(next().starts_with("web "));
    assert!(k.ok(&["create", "-f", &db]).contains("pod/db created"));
    assert!(next().starts_with("db "));
    let _ = watch.kill();
    let _ = watch.wait();

    // create again: 409 AlreadyExists, as kubectl reports it.
    let err = k.fails(&["create", "-f", &db]);
    assert!(err.contains("AlreadyExists"), "{err}");
    assert!(
        k.ok(&["delete", "pod", "db"])
            .contains("pod \"db\" deleted")
    );
    let err = k.fails(&["get", "pod", "db"]);
    assert!(err.contains("NotFound"), "{err}");
    let events = k.ok(&["get", "events"]);
    assert!(events.contains("Scheduled"), "{events}");
    assert!(events.contains("Killing"), "{events}");
    assert!(events.contains("pod/db"), "{events}");
    let namespaces = k.ok(&["get", "ns"]);
    assert!(namespaces.contains("default"), "{namespaces}");
    assert!(namespaces.contains("Active"), "{namespaces}");
    // logs come from the device; the test config's device is absent: 503 ServiceUnavailable.
    let err = k.fails(&["logs", "web"]);
    assert!(err.contains("ServiceUnavailable"), "{err}");
    assert!(k.ok(&["delete", "-f", &pod]).contains("deleted"));
    assert!(k.ok(&["get", "pods"]).is_empty());
}

const CM: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: prod}
data:
  app.conf: "port = 80\n"
  mode: fast
"#;

#[actix_rt::test]
async fn kubectl_manages_configmaps() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mk = MkubeProcess::start(dir.path(), NODE, &nats.url());
    mk.wait_ready(&common::http()).await;
    let k = Kubectl::new(&mk.base, &[]);
    let cm = write(dir.path(), "cm.yaml", CM);
    assert!(
        k.ok(&["apply", "-f", &cm])
            .contains("configmap/app-config created")
    );
    let list = k.ok(&["get", "cm", "-A"]);
    assert!(words(list.lines().nth(1).unwrap()).starts_with(&["prod", "app-config", "2"]));
    let slow = write(dir.path(), "cm2.yaml", &CM.replace("fast", "slow"));
    assert!(k.ok(&["apply", "-f", &slow]).contains("configured"));
    let data = k.ok(&[
        "get",
        "configmap",
        "app-config",
        "-n",
        "prod",
        "-o",
        "jsonpath={.data.mode}|{.data.app\\.conf}",
    ]);
    assert_eq!(data, "slow|port = 80\n");
    // API-6: the ConfigMap's namespace is listed.
    assert!(k.ok(&["get", "ns"]).contains("prod"));
    assert!(
        k.ok(&["delete", "configmap", "app-config", "-n", "prod"])
            .contains("deleted")
    );
    let err = k.fails(&["get", "configmap", "app-config", "-n", "prod"]);
    assert!(err.contains("NotFound"), "{err}");
}

#[actix_rt::test]
async fn kubectl_uses_a_token_over_tls() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = write(dir.path(), "api.crt", &cert.pem());
    let key_path = write(dir.path(), "api.key", &key.serialize_pem());
    let token_path = write(dir.path(), "token", "s3cret-token\n");
    let extra =
        format!("  tokenFile: {token_path}\n  tlsCert: {cert_path}\n  tlsKey: {key_path}\n");
    let url = nats.url();
    // `extra` continues the `api:` block that config_text ends its listen line in.
    let mk = MkubeProcess::start_config(dir.path(), |listen| {
        config_text(NODE, &url, listen, "").replace(
            &format!("  listen: {listen}\n"),
            &format!("  listen: {listen}\n{extra}"),
        )
    });
    let https = mk.base.replace("http://", "https://");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(mkube::tls::client_config(true, &[]).unwrap())
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready = client.get(format!("{https}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", mk.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tls = ["--insecure-skip-tls-verify"];
    let k = Kubectl::new(&https, &[tls[0], "--token", "s3cret-token"]);
    let pod = write(dir.path(), "pod.yaml", POD);
    assert!(k.ok(&["apply", "-f", &pod]).contains("pod/web created"));
    assert!(k.ok(&["get", "pods"]).contains("web"));
    let wrong = Kubectl::new(&https, &[tls[0], "--token", "nope"]);
    // kubectl words a 401 as "the server has asked for the client to provide credentials".
    let err = wrong.fails(&["get", "pods"]);
    assert!(err.contains("provide credentials"), "{err}");
    // With no credentials at all kubectl answers a 401 by prompting for a username on stdin;
    // stdin is closed here, so it stops with "EOF".
    let none = Kubectl::new(&https, &tls);
    let err = none.fails(&["get", "pods"]);
    assert!(
        err.contains("EOF") || err.contains("provide credentials"),
        "{err}"
    );
}

// §9 pod log with a device: the RouterOS simulator's `/log` lines that mention the container's
// device name (NAME-1 `<ns>_<pod>_<container>`), through `kubectl logs` and plain HTTP.
#[actix_rt::test]
async fn kubectl_logs_reads_the_device_log() {
    use serde_json::json;
    let sim = crate::sim_common::start(Default::default()).await;
    let mut state = sim.control("GET", "/state", None).await;
    let logs = state["logs"].as_array_mut().expect("logs table");
    for (i, message) in [
        "container default_web_web: started",
        "container default_other_web: started",
        "default_web_web: listening on :80",
    ]
    .iter()
    .enumerate()
    {
        logs.push(
            json!({".id": format!("*F{i}"), "time": format!("10:00:0{i}"),
            "topics": "container,info", "message": message}),
        );
    }
    sim.control("POST", "/state", Some(state)).await;

    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let device = sim.sim.rest_url();
    let url = nats.url();
    let mk = MkubeProcess::start_config(dir.path(), |listen| {
        config_text(NODE, &url, listen, "").replace("http://127.0.0.1:9/rest", &device)
    });
    let http = common::http();
    mk.wait_ready(&http).await;
    assert!(
        mk.log_text().contains("RouterOS device connected"),
        "{}",
        mk.log_text()
    );
    let k = Kubectl::new(&mk.base, &[]);
    let pod = write(dir.path(), "pod.yaml", POD);
    k.ok(&["apply", "-f", &pod]);
    let logs = k.ok(&["logs", "web"]);
    assert_eq!(
        logs,
        "10:00:00 container,info container default_web_web: started\n\
         10:00:02 container,info default_web_web: listening on :80\n"
    );
    let r = http
        .get(mk.url("/api/v1/namespaces/default/pods/web/log?container=web"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), logs);
    sim.sim.stop().await;
}
