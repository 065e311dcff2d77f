//! One read of everything the end is judged on, from outside mkube: its API (pods,
//! ConfigMaps, allocations, the consistency report), the device's REST tables and the zone.

use super::config::{CONFIGMAP_DIR, DEVICE_PASSWORD, NAMESPACE, ZONE};
use super::http::{get_device, get_json};
use super::processes::Site;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// A pod as the API shows it.
#[derive(Debug, Clone)]
pub struct ApiPod {
    pub generation: Option<u64>,
    pub deleting: bool,
    pub phase: String,
    pub pod_ip: String,
    pub image_id: String,
}

/// A row of one of the device's tables: its properties as RouterOS's strings.
pub type Row = BTreeMap<String, String>;

#[derive(Debug, Default)]
pub struct Observed {
    pub pods: BTreeMap<String, ApiPod>,
    pub configmaps: BTreeMap<String, String>,
    /// IPAM: veth → address.
    pub allocations: BTreeMap<String, String>,
    pub containers: Vec<Row>,
    pub veths: Vec<Row>,
    pub ports: Vec<Row>,
    pub mounts: Vec<Row>,
    pub envs: Vec<Row>,
    /// The zone's A records: (name, address).
    pub dns: Vec<(String, String)>,
    /// The consistency report's failing items ("<name>: <message>").
    pub consistency_failures: Vec<String>,
    /// Its warnings, shown at the end (a warning is not a failure of the report).
    pub consistency_warnings: Vec<String>,
    /// Per pod the API shows: the ConfigMap file its volume holds on the device's disk
    /// (`<configMapPath>/<container>/cfg/v`), `None` when there is none.
    pub configmap_files: BTreeMap<String, Option<String>>,
}

impl Observed {
    /// How much there is, so a pass over an empty site is visible as such.
    pub fn summary(&self) -> String {
        format!(
            "pods={} configmaps={} containers={} veths={} bridge-ports={} allocations={} mounts={} dns-a={}",
            self.pods.len(),
            self.configmaps.len(),
            self.containers.len(),
            self.veths.len(),
            self.ports.len(),
            self.allocations.len(),
            self.mounts.len(),
            self.dns.len()
        )
    }
}

/// Reads everything; any table that cannot be read is an error naming it.
pub async fn observe(site: &Site, http: &reqwest::Client) -> Result<Observed> {
    let api = site.api();
    let dev = format!("{}/rest", site.device());
    let table = |path: &'static str| {
        let url = format!("{dev}/{path}");
        async move {
            let v = get_device(http, &url, DEVICE_PASSWORD).await?;
            rows(&v).with_context(|| format!("device table {path}"))
        }
    };
    let pods = pods(&get_json(http, &format!("{api}/api/v1/namespaces/{NAMESPACE}/pods")).await?)?;
    let report = fresh_report(http, &api).await?;
    let consistency_failures = report_items(&report, "fail");
    let configmap_files = pods
        .keys()
        .map(|p| (p.clone(), configmap_file(site, p)))
        .collect();
    Ok(Observed {
        pods,
        configmap_files,
        configmaps: configmaps(
            &get_json(
                http,
                &format!("{api}/api/v1/namespaces/{NAMESPACE}/configmaps"),
            )
            .await?,
        )?,
        allocations: string_map(&get_json(http, &format!("{api}/api/v1/allocations")).await?)?,
        containers: table("container").await?,
        veths: table("interface/veth").await?,
        ports: table("interface/bridge/port").await?,
        mounts: table("container/mounts").await?,
        envs: table("container/envs").await?,
        dns: zone_records(site, http).await?,
        consistency_failures,
        consistency_warnings: report_items(&report, "warn"),
    })
}

fn configmap_file(site: &Site, pod: &str) -> Option<String> {
    let path = site
        .dir
        .join(CONFIGMAP_DIR)
        .join(super::invariants::container_name(pod))
        .join("cfg/v");
    std::fs::read_to_string(path).ok()
}

fn rows(v: &Value) -> Result<Vec<Row>> {
    let list = v.as_array().context("not a list")?;
    Ok(list
        .iter()
        .filter_map(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .collect())
}

fn items(list: &Value, what: &str) -> Result<Vec<Value>> {
    list.get("items")
        .and_then(Value::as_array)
        .cloned()
        .with_context(|| format!("{what} list without items"))
}

fn pods(list: &Value) -> Result<BTreeMap<String, ApiPod>> {
    let mut out = BTreeMap::new();
    for p in items(list, "pod")? {
        let Some(name) = p.pointer("/metadata/name").and_then(Value::as_str) else {
            continue;
        };
        let s = |ptr: &str| {
            p.pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let generation = generation_of(&p);
        out.insert(
            name.to_string(),
            ApiPod {
                generation,
                deleting: p
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null()),
                phase: s("/status/phase"),
                pod_ip: s("/status/podIP"),
                image_id: s("/status/containerStatuses/0/imageID"),
            },
        );
    }
    Ok(out)
}

/// The pod's env `GEN` (the workload's generation of its spec).
pub fn generation_of(pod: &Value) -> Option<u64> {
    pod.pointer("/spec/containers/0/env")
        .and_then(Value::as_array)
        .and_then(|env| env.iter().find(|e| e["name"] == "GEN"))
        .and_then(|e| e["value"].as_str())
        .and_then(|v| v.parse().ok())
}

fn configmaps(list: &Value) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for c in items(list, "configmap")? {
        if let Some(name) = c.pointer("/metadata/name").and_then(Value::as_str) {
            let v = c.pointer("/data/v").and_then(Value::as_str).unwrap_or("");
            out.insert(name.to_string(), v.to_string());
        }
    }
    Ok(out)
}

fn string_map(v: &Value) -> Result<BTreeMap<String, String>> {
    let o = v.as_object().context("allocations: not an object")?;
    Ok(o.iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect())
}

/// The zone's A records, from the double's store (its control port answers under faults).
async fn zone_records(site: &Site, http: &reqwest::Client) -> Result<Vec<(String, String)>> {
    let store = get_json(http, &format!("{}/_control/store", site.dns_control())).await?;
    let zone_id = store["zones"]
        .as_array()
        .and_then(|zs| zs.iter().find(|z| z["name"] == ZONE))
        .and_then(|z| z["id"].as_str());
    let Some(zone_id) = zone_id else {
        return Ok(Vec::new());
    };
    let records = store["records"]
        .as_array()
        .context("store without records")?;
    Ok(records
        .iter()
        .filter(|r| r["zone_id"] == zone_id && r["type"] == "A")
        .map(|r| {
            let name = r["name"].as_str().unwrap_or("").to_string();
            let ip = r
                .pointer("/data/data")
                .and_then(Value::as_str)
                .unwrap_or("");
            (name, ip.to_string())
        })
        .collect())
}

/// The consistency report computed after this call began. A report older than its cache age
/// is served while a fresh one is computed, so the first answer is often from before: ask
/// again shortly, and after a few tries count the stale report as a failure.
async fn fresh_report(http: &reqwest::Client, api: &str) -> Result<Value> {
    let began = chrono::Utc::now();
    let url = format!("{api}/api/v1/consistency");
    for _ in 0..10 {
        let report = get_json(http, &url).await?;
        if stale_report(&report, began).is_none() {
            return Ok(report);
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let mut report = get_json(http, &url).await?;
    if let Some(stale) = stale_report(&report, began) {
        let item =
            serde_json::json!({"name": "soak/stale-report", "status": "fail", "message": stale});
        if let Some(list) = report
            .pointer_mut("/checks/containers")
            .and_then(Value::as_array_mut)
        {
            list.push(item);
        }
    }
    Ok(report)
}

/// Why the report cannot vouch for a read that began at `began`: it was computed before.
fn stale_report(report: &Value, began: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let at = report["timestamp"].as_str().unwrap_or("");
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) if t >= began => None,
        Ok(_) => Some(format!(
            "report: computed at {at}, before this read ({began})"
        )),
        Err(_) => Some(format!("report: unreadable timestamp {at:?}")),
    }
}

/// The report's items of one status ("<name>: <message>").
fn report_items(report: &Value, status: &str) -> Vec<String> {
    let Some(checks) = report["checks"].as_object() else {
        return vec!["consistency: no checks in the report".into()];
    };
    checks
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter(|c| c["status"] == status)
        .map(|c| {
            format!(
                "{}: {}",
                c["name"].as_str().unwrap_or("?"),
                c["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}
