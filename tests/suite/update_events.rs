//! The registry's push stream (images.md §5.5, §2.8): the mkube-update binary, polling only
//! once an hour, replaces a container as soon as mkube-registry announces a push on
//! `:5001/events`.

use crate::update_support::Site;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[actix_web::test]
async fn a_push_event_triggers_the_replacement_without_waiting_for_the_poll() {
    let site = Site::start().await;
    site.push("app", "edge", "v1").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let events = format!("{}/events", site.registry.mgmt_url().unwrap());
    let text = site
        .config_text("watches:\n  - repo: app\n    tags: [edge]\n    container: app1\n")
        .replace("eventsURL: \"off\"", &format!("eventsURL: {events}"));
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mkube-update"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first cycle adopts v1's digest; then the stream is followed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while site.registry.event_subscribers() == 0
        || !site.data_dir().join("update-state.json").exists()
    {
        assert!(Instant::now() < deadline, "mkube-update never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    site.push("app", "edge", "v2").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Between the old row's removal and the new row's add there is no row: not yet.
        let row = site.row("app1").await;
        if let Some(row) = &row
            && site.marker(row) == "v2"
            && row["running"] == "true"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not replaced after the push: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
}
