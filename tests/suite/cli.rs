//! The `mkube` CLI as users run it: replay (NATS and file), filters, export/import, events,
//! version, and clear errors for bad input.

use crate::common;

use bytes::Bytes;
use common::mkube::cli;
use common::{NatsServer, cluster, samples};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn stdout_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "mkube failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A NATS server whose log holds one event of every kind (through the actors).
async fn populated() -> (NatsServer, mkube::config::Config) {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    for e in samples::all() {
        cluster::record(&c, e, "cli").await;
    }
    (nats, cfg)
}

#[actix_rt::test]
async fn replay_prints_every_event_and_the_final_state() {
    let (nats, _) = populated().await;
    let url = nats.url();
    let lines = stdout_lines(&cli(&["replay", "--nats", &url, "--format", "json"]));
    let n = samples::all().len();
    assert_eq!(lines.len(), n + 1, "one line per event, then the state");
    for (i, (line, event)) in lines.iter().zip(samples::all()).enumerate() {
        assert_eq!(line["seq"], i as u64 + 1);
        assert_eq!(line["kind"], samples::kind_name(&event));
        assert_eq!(line["corr"], "cli");
    }
    let state = &lines[n];
    assert_eq!(state["lastSeq"], n as u64);
    // The samples end with a consistency OrphanReaped; ipam ends with a release of the only key.
    assert_eq!(state["state"]["consistency"]["reapedTotal"], 1);
    assert!(
        state["state"]["veths"]["veths"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    // Table output names kinds and ends with the state.
    let table = cli(&["replay", "--nats", &url]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("pods.PodDeclared") && text.contains("state at sequence 25"),
        "{text}"
    );
}

#[actix_rt::test]
async fn replay_filters_and_stops_where_asked() {
    let (nats, _) = populated().await;
    let url = nats.url();
    let ipam = stdout_lines(&cli(&[
        "replay",
        "--nats",
        &url,
        "--format",
        "json",
        "--area",
        "ipam",
        "--no-state",
    ]));
    assert_eq!(ipam.len(), 3);
    assert!(
        ipam.iter()
            .all(|l| l["kind"].as_str().unwrap().starts_with("ipam."))
    );
    let pods_web = stdout_lines(&cli(&[
        "replay",
        "--nats",
        &url,
        "--format",
        "json",
        "--subject",
        "mkube.test-node.pods.*.web",
        "--no-state",
    ]));
    assert_eq!(pods_web.len(), 7);
    // --until-seq: the state is the state at that point (pod declared, not yet deleted).
    let until = stdout_lines(&cli(&[
        "replay",
        "--nats",
        &url,
        "--format",
        "json",
        "--until-seq",
        "2",
    ]));
    assert_eq!(until.len(), 3);
    assert_eq!(until[2]["lastSeq"], 2);
    assert!(until[2]["state"]["pods"]["pods"]["default/web"].is_object());
    // --until-time before everything: no events, empty state.
    let early = stdout_lines(&cli(&[
        "replay",
        "--nats",
        &url,
        "--format",
        "json",
        "--until-time",
        "2000-01-01T00:00:00Z",
    ]));
    assert_eq!(early.len(), 1);
    assert_eq!(early[0]["lastSeq"], 0);
    let bad_area = cli(&["replay", "--nats", &url, "--area", "nonsense"]);
    assert!(!bad_area.status.success());
    assert!(String::from_utf8_lossy(&bad_area.stderr).contains("unknown area"));
}

#[actix_rt::test]
async fn export_then_import_reproduces_the_log() {
    let (nats, _) = populated().await;
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log.cbor");
    let file_s = file.to_str().unwrap();
    let out = cli(&["export", "--nats", &url, "--out", file_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_nats = cli(&["replay", "--nats", &url, "--format", "json"]).stdout;
    let from_file = cli(&["replay", "--file", file_s, "--format", "json"]).stdout;
    assert_eq!(
        from_file, from_nats,
        "the file replays exactly like the stream"
    );

    // Import into another (empty) stream on a second server, then replay it.
    let other = NatsServer::start();
    let out = cli(&["import", file_s, "--nats", &other.url()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported = cli(&["replay", "--nats", &other.url(), "--format", "json"]).stdout;
    let strip_stored = |bytes: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("stored");
                v
            })
            .collect()
    };
    assert_eq!(strip_stored(&imported), strip_stored(&from_nats));
    // Importing again is refused: the stream is no longer empty.
    let again = cli(&["import", file_s, "--nats", &other.url()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds events"));
}

#[test]
fn bad_files_and_flags_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.cbor");
    std::fs::write(&garbage, b"definitely not a log").unwrap();
    let out = cli(&["replay", "--file", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an mkube log export"));
    let missing = cli(&["replay", "--file", "/nonexistent/log.cbor"]);
    assert!(!missing.status.success());
    let v = cli(&["version"]);
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("mkube "));
    // A config error names the file and the field, and the process exits non-zero.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "networks:\n  - name: x\n    cidr: 10.0.0.0/33\n").unwrap();
    let out = cli(&["run", "--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml") && err.contains("networks[0].cidr"),
        "{err}"
    );
}

#[actix_rt::test]
async fn undecodable_records_are_reported_with_their_sequence_and_skipped() {
    let (nats, cfg) = populated().await;
    let log = cluster::log(&cfg).await;
    log.append(
        "mkube.test-node.pods.default.junk",
        "junk",
        0,
        Bytes::from_static(b"\xff\x00garbage"),
    )
    .await
    .unwrap();
    let lines = stdout_lines(&cli(&["replay", "--nats", &nats.url(), "--format", "json"]));
    let bad = &lines[lines.len() - 2];
    assert_eq!(bad["seq"], 26);
    assert!(bad["error"].is_string());
    let state = &lines[lines.len() - 1];
    assert_eq!(state["undecodable"], serde_json::json!([26]));
    // A booting controller skips it too, and counts it.
    let dir = tempfile::tempdir().unwrap();
    let mk = common::mkube::MkubeProcess::start(dir.path(), "test-node", &nats.url());
    let http = common::http();
    mk.wait_ready(&http).await;
    let metrics = mk.get_text(&http, "/metrics").await;
    assert!(
        metrics.contains("mkube_undecodable_events_total 1"),
        "{metrics}"
    );
    assert!(mk.log_text().contains("seq=26"));
}

#[actix_rt::test]
async fn events_follow_prints_new_events_as_they_arrive() {
    let (nats, cfg) = populated().await;
    let mut child = Command::new(common::mkube::bin())
        .args([
            "events",
            "--follow",
            "--nats",
            &nats.url(),
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Give the follower a moment to subscribe, then append one more event.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let c = cluster::boot(&cfg).await;
    cluster::record(&c, samples::all().remove(14), "late").await;
    let line: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(line["seq"], 26, "only new events are followed");
    assert_eq!(line["kind"], "veths.VethCreated");
    assert_eq!(line["corr"], "late");
    // Without --follow, `events` prints the whole log and exits.
    let all = stdout_lines(&cli(&["events", "--nats", &nats.url(), "--format", "json"]));
    assert_eq!(all.len(), 26);
}

/// Reading tools never create streams: a mistyped stream name is an error, not a new stream.
#[actix_rt::test]
async fn replay_of_a_missing_stream_fails_and_creates_nothing() {
    let (nats, cfg) = populated().await;
    let out = cli(&["replay", "--nats", &nats.url(), "--stream", "TYPO"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TYPO"));
    let log = cluster::log(&cfg).await;
    let names: Vec<String> = futures::StreamExt::collect::<Vec<_>>(log.jetstream().stream_names())
        .await
        .into_iter()
        .map(|n| n.unwrap())
        .collect();
    assert!(!names.contains(&"TYPO".to_string()), "{names:?}");
}
