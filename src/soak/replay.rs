//! The log read by `mkube replay --format json` (no controller running it): the pods and
//! ConfigMaps the event log folds to, for the "lost" check.

use super::config::NAMESPACE;
use super::observe::{ApiPod, Observed, generation_of};
use super::processes::Site;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::process::Command;

/// Folds the log with `mkube replay` and returns what it holds as an observation (pods and
/// ConfigMaps only; `containers` are taken from `device`, the last read of the device).
pub async fn replayed(site: &Site, device: &Observed) -> Result<Observed> {
    let out = Command::new(site.bins.join("mkube"))
        .args(["replay", "--format", "json", "--node", "soak", "--nats"])
        .arg(site.nats_url())
        .output()
        .await
        .context("running mkube replay")?;
    if !out.status.success() {
        bail!(
            "mkube replay: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let state = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("state").cloned())
        .next_back()
        .context("mkube replay printed no state")?;
    Ok(Observed {
        pods: pods(&state),
        configmaps: configmaps(&state),
        containers: device.containers.clone(),
        ..Observed::default()
    })
}

fn pods(state: &Value) -> std::collections::BTreeMap<String, ApiPod> {
    let prefix = format!("{NAMESPACE}/");
    let mut out = std::collections::BTreeMap::new();
    for (table, deleting) in [("/pods/pods", false), ("/pods/deleting", true)] {
        let Some(map) = state.pointer(table).and_then(Value::as_object) else {
            continue;
        };
        for (key, desired) in map {
            let Some(name) = key.strip_prefix(&prefix) else {
                continue;
            };
            let pod = ApiPod {
                generation: generation_of(&desired["pod"]),
                deleting,
                phase: String::new(),
                pod_ip: String::new(),
                image_id: String::new(),
            };
            // A pod both desired and still being torn down from before counts as desired.
            out.entry(name.to_string()).or_insert(pod);
        }
    }
    out
}

fn configmaps(state: &Value) -> std::collections::BTreeMap<String, String> {
    let prefix = format!("{NAMESPACE}/");
    let Some(map) = state
        .pointer("/configmaps/configMaps")
        .and_then(Value::as_object)
    else {
        return Default::default();
    };
    map.iter()
        .filter_map(|(key, cm)| {
            let name = key.strip_prefix(&prefix)?;
            let v = cm.pointer("/data/v").and_then(Value::as_str).unwrap_or("");
            Some((name.to_string(), v.to_string()))
        })
        .collect()
}
