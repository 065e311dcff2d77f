//! `/metrics` of the real `mkube` binary (issue 17), with a real nats-server, the RouterOS
//! simulator and the microdns double on loopback. After a pod was created through the API and
//! runs, the scrape is read by the Python `prometheus_client` parsers (`metrics_scrape.py`, no
//! mkube code) and the engine's families must be there with sensible values: reconcile passes
//! and steps, RouterOS calls by normalised path and outcome, DNS writes, pods by phase.
//! Prometheus's `Accept` gets OpenMetrics (read by the strict OpenMetrics parser); any other,
//! malformed included, gets the classic text format with every family typed.

use crate::common::{self, NatsServer};
use crate::engine_support::{TARBALL, process_config, wait_until};
use crate::routeros_support::Harness;
use common::mkube::MkubeProcess;
use mkube::sim::microdns::{self, MicrodnsSimOptions};
use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/suite/metrics_scrape.py");

/// The scrape as the Python parser of `format` (`text`, `openmetrics`) understood it
/// (`{types, samples}`).
async fn parse_as(format: &'static str, text: String) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg(format)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 on PATH");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write the scrape");
        drop(stdin);
        child.wait_with_output().expect("parser output")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the {format} parser refused the scrape: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}

/// OpenMetrics text (`Metrics::render`), read by the strict OpenMetrics parser.
async fn parse(text: String) -> Value {
    parse_as("openmetrics", text).await
}

/// The values of the samples named `name` whose labels include every pair of `labels`.
fn values(parsed: &Value, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    parsed["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .filter_map(|s| s["value"].as_f64())
        .collect()
}

fn sum(parsed: &Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    values(parsed, name, labels).iter().sum()
}

async fn scrape(mk: &MkubeProcess, accept: Option<&str>, query: &str) -> (String, String) {
    let mut req = common::http().get(mk.url(&format!("/metrics{query}")));
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let r = req.send().await.expect("GET /metrics");
    assert_eq!(r.status(), 200, "accept {accept:?}, query {query:?}");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (content_type, r.text().await.expect("body"))
}

async fn create_pod(mk: &MkubeProcess, name: &str) {
    let body = json!({
        "metadata": {"name": name, "annotations": {"vkube.io/file": TARBALL}},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "command": ["/bin/app"]}]}
    });
    let r = common::http()
        .post(mk.url("/api/v1/namespaces/default/pods"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[actix_rt::test]
async fn a_scrape_after_a_pod_runs_parses_and_counts_the_engine() {
    let nats = NatsServer::start();
    let h = Harness::start(Profile::default()).await;
    h.seed(json!({"bridges": ["t"]})).await;
    h.tarball("app", "v1");
    let dns = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (url, rest, endpoint) = (nats.url(), h.sim.rest_url(), dns.endpoint());
    let mk = MkubeProcess::start_config(dir.path(), |l| {
        process_config("metrics", &url, &rest, l, 0.5).replace("http://127.0.0.1:9", &endpoint)
    });
    let http = common::http();
    mk.wait_ready(&http).await;
    create_pod(&mk, "web").await;
    wait_until("pod web Running", 30, || async {
        let pod = mk
            .get_json(&http, "/api/v1/namespaces/default/pods/web")
            .await;
        pod["status"]["phase"] == "Running"
    })
    .await;
    // The pass after the pod runs: the pod's DNS name is written by then.
    wait_until("a reconcile pass after the pod runs", 30, || async {
        let (_, text) = scrape(&mk, None, "").await;
        let parsed = parse_as("text", text).await;
        sum(&parsed, "mkube_reconcile_pass_seconds_count", &[]) >= 2.0
            && sum(
                &parsed,
                "mkube_dns_writes_total",
                &[("operation", "create_record")],
            ) >= 1.0
    })
    .await;

    let (content_type, text) = scrape(&mk, None, "").await;
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let parsed = parse_as("text", text.clone()).await;
    let log = mk.log_text();
    let types = &parsed["types"];
    for (family, kind) in [
        ("mkube_reconcile_pass_seconds", "histogram"),
        ("mkube_reconcile_step_seconds", "histogram"),
        ("mkube_routeros_calls", "counter"),
        ("mkube_routeros_call_seconds", "histogram"),
        ("mkube_dns_writes", "counter"),
        ("mkube_pods", "gauge"),
        ("mkube_container_restarts", "counter"),
        ("mkube_events_appended", "counter"),
        ("mkube_reconcile_passes_aborted", "counter"),
        ("mkube_dns_write_failures", "counter"),
        ("mkube_image_pulls", "counter"),
        ("mkube_image_tarball_builds", "counter"),
        ("mkube_image_tarball_build_seconds", "histogram"),
        ("mkube_consistency_reaps", "counter"),
        ("mkube_consistency_network_repairs", "counter"),
        ("mkube_consistency_passes_stopped", "counter"),
    ] {
        assert_eq!(types[family], kind, "{family} in {text}");
    }
    // Every family typed: a counter's metadata names its `_total` samples in this format.
    let untyped: Vec<&String> = types
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, t)| *t == "unknown")
        .map(|(name, _)| name)
        .collect();
    assert!(untyped.is_empty(), "untyped families {untyped:?} in {text}");
    // Reconcile: passes and each step of them timed.
    let steps = |step| {
        sum(
            &parsed,
            "mkube_reconcile_step_seconds_count",
            &[("step", step)],
        )
    };
    for step in ["1", "1b", "2", "4", "3", "3c", "6-7"] {
        assert!(steps(step) >= 1.0, "step {step}: {text}\n{log}");
    }
    // RouterOS: the create went through `/container/add` and answered ok; ids never label.
    let ok_adds = [
        ("method", "POST"),
        ("path", "/container/add"),
        ("outcome", "ok"),
    ];
    assert!(
        sum(&parsed, "mkube_routeros_calls_total", &ok_adds) >= 1.0,
        "{text}"
    );
    assert!(
        sum(
            &parsed,
            "mkube_routeros_calls_total",
            &[("path", "/container"), ("outcome", "ok")]
        ) >= 1.0
    );
    let latency = [("method", "POST"), ("path", "/container/add")];
    assert!(sum(&parsed, "mkube_routeros_call_seconds_count", &latency) >= 1.0);
    assert!(
        !text.contains("path=\"/container/*"),
        "an item id labels a series: {text}"
    );
    // Pods: one, running; the other phases show as 0.
    assert_eq!(
        values(&parsed, "mkube_pods", &[("phase", "Running")]),
        [1.0]
    );
    assert_eq!(sum(&parsed, "mkube_pods", &[]), 1.0, "{text}");
    assert_eq!(values(&parsed, "mkube_pods", &[]).len(), 5, "{text}");
    // DNS: the zone and the pod's record written, none failed.
    assert!(sum(&parsed, "mkube_dns_writes_total", &[]) >= 1.0);
    assert_eq!(sum(&parsed, "mkube_dns_write_failures_total", &[]), 0.0);
    assert_eq!(sum(&parsed, "mkube_container_restarts_total", &[]), 0.0);

    // Prometheus's own Accept gets OpenMetrics, which the strict parser reads.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                      version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (content_type, text) = scrape(&mk, Some(prometheus), "").await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(text.ends_with("# EOF\n"));
    let parsed = parse(text).await;
    assert_eq!(parsed["types"]["mkube_routeros_calls"], "counter");
    assert_eq!(
        values(&parsed, "mkube_pods", &[("phase", "Running")]),
        [1.0]
    );

    // Anything else, malformed included, gets the classic text, parseable.
    for (accept, query) in [
        (Some("application/json"), ""),
        (Some(";;;=,\t garbage/"), ""),
        (Some("text/plain;version=0.0.4"), ""),
        (None, "?format=protobuf&x=%ZZ"),
    ] {
        let (content_type, text) = scrape(&mk, accept, query).await;
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let parsed = parse_as("text", text).await;
        assert_eq!(
            values(&parsed, "mkube_pods", &[("phase", "Running")]),
            [1.0]
        );
    }
}

// Every outcome of a RouterOS call labels its own series, and the path label never holds an
// item id: the client against the simulator with its faults (404 for an unknown id, 400 for
// a remove of nothing, an injected 500, a dropped connection, a hang past the client's
// timeout).
#[tokio::test]
async fn routeros_calls_are_labelled_by_outcome_and_normalised_path() {
    let h = Harness::start(Profile::default()).await;
    let metrics = mkube::metrics::Metrics::new();
    let mut opts = h.options();
    opts.metrics = Some(metrics.clone());
    opts.request_timeout = std::time::Duration::from_millis(300);
    let client = mkube::routeros::RosClient::connect(opts).await.unwrap();
    h.knobs(json!({"requestCapMs": 5000})).await;
    assert!(client.get_raw("/container/*FFFF", &[]).await.is_err());
    assert!(client.remove("/container", "*FFFF").await.is_err());
    h.fault(
        json!({"method":"GET","path":"/rest/ip/address","kind":"error","status":500,"count":1}),
    )
    .await;
    assert!(client.get_raw("/ip/address", &[]).await.is_err());
    h.fault(json!({"method":"GET","path":"/rest/interface/veth","kind":"eof","count":1}))
        .await;
    assert!(client.get_raw("/interface/veth", &[]).await.is_err());
    h.fault(json!({"method":"GET","path":"/rest/interface/bridge","kind":"hang","count":1}))
        .await;
    assert!(client.get_raw("/interface/bridge", &[]).await.is_err());
    assert!(client.get_raw("/container", &[]).await.is_ok());

    let parsed = parse(metrics.render()).await;
    let calls = |method, path, outcome| {
        let labels = [("method", method), ("path", path), ("outcome", outcome)];
        sum(&parsed, "mkube_routeros_calls_total", &labels)
    };
    assert_eq!(calls("GET", "/system/resource", "ok"), 1.0);
    assert_eq!(calls("GET", "/container/{id}", "http_4xx"), 1.0);
    assert_eq!(calls("POST", "/container/remove", "http_4xx"), 1.0);
    assert_eq!(calls("GET", "/ip/address", "http_5xx"), 1.0);
    assert_eq!(calls("GET", "/interface/veth", "error"), 1.0);
    assert_eq!(calls("GET", "/interface/bridge", "timeout"), 1.0);
    assert_eq!(calls("GET", "/container", "ok"), 1.0);
    let latency = [("method", "GET"), ("path", "/interface/bridge")];
    assert_eq!(
        sum(&parsed, "mkube_routeros_call_seconds_count", &latency),
        1.0
    );
    assert!(
        values(&parsed, "mkube_routeros_calls_total", &[])
            .iter()
            .all(|v| *v >= 1.0)
    );
    let text = metrics.render();
    assert!(!text.contains("*FFFF"), "{text}");
}

// A pass whose device listing fails is timed and counted as aborted; the steps after the
// listing are not timed (they did not run). An in-process cluster, passes run by the test.
#[actix_rt::test]
async fn an_aborted_reconcile_pass_is_counted() {
    let env = crate::engine_support::env().await;
    let metrics = mkube::metrics::Metrics::new();
    let c = common::cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    let report = crate::engine_support::pass(&c).await;
    assert_eq!(report.aborted, None, "{report:?}");
    env.h
        .fault(
            json!({"method":"GET","path":"/rest/container","kind":"error","status":500,"count":1}),
        )
        .await;
    let report = crate::engine_support::pass(&c).await;
    assert!(report.aborted.is_some(), "{report:?}");

    let parsed = parse(metrics.render()).await;
    assert_eq!(sum(&parsed, "mkube_reconcile_pass_seconds_count", &[]), 2.0);
    assert_eq!(
        sum(&parsed, "mkube_reconcile_passes_aborted_total", &[]),
        1.0
    );
    let steps = |step| {
        sum(
            &parsed,
            "mkube_reconcile_step_seconds_count",
            &[("step", step)],
        )
    };
    assert_eq!(steps("1"), 2.0);
    assert_eq!(steps("2"), 1.0);
    assert_eq!(steps("3c"), 1.0);
    let failed_listing = [
        ("method", "GET"),
        ("path", "/container"),
        ("outcome", "http_5xx"),
    ];
    assert_eq!(
        sum(&parsed, "mkube_routeros_calls_total", &failed_listing),
        1.0
    );
}
