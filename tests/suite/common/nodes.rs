//! The fleet's nodes as a controller lists them (`GET /api/v1/nodes`), for the fleet tests.

use super::mkube::MkubeProcess;
use std::time::{Duration, Instant};

/// Node name → its `kubectl get nodes` status word, as `controller` lists them.
pub async fn statuses(http: &reqwest::Client, controller: &MkubeProcess) -> Vec<(String, String)> {
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

pub async fn until_statuses(
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
        if Instant::now() >= deadline {
            let nodes = controller.get_json(http, "/api/v1/nodes").await;
            panic!(
                "nodes: {got:?}, wanted {want:?}\n{nodes:#}\n{}",
                controller.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
