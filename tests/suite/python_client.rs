//! The official Kubernetes Python client against the real `mkube` binary, with a real
//! nats-server and the RouterOS simulator (issue 11: a second real client beside kubectl).
//! The script (`python_client.py`) is a user's: create, 409, read with env, lists across and
//! in namespaces, label and field selectors, a watch with bookmarks, patch, ConfigMap CRUD,
//! a bad name, events, delete then 404. `scripts/test` installs the client when missing.

use crate::common;
use crate::engine_support::{TARBALL, process_config};
use crate::routeros_support::Harness;
use common::NatsServer;
use common::mkube::MkubeProcess;
use mkube::sim::routeros::Profile;
use serde_json::json;
use std::process::Command;

#[actix_rt::test]
async fn the_official_python_client_runs_a_users_script() {
    let nats = NatsServer::start();
    let h = Harness::start(Profile::default()).await;
    h.seed(json!({"bridges": ["t"]})).await;
    h.tarball("app", "v1");
    let dir = tempfile::tempdir().unwrap();
    let (url, rest) = (nats.url(), h.sim.rest_url());
    let mk = MkubeProcess::start_config(dir.path(), |l| process_config("py", &url, &rest, l, 1.0));
    mk.wait_ready(&common::http()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/suite/python_client.py");
    let base = mk.url("");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(base.trim_end_matches('/'))
            .arg(TARBALL)
            .output()
            .expect("python3 on PATH")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{stderr}\nmkube log:\n{}",
        mk.log_text()
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
