//! `/tool/fetch` for loopback HTTP URLs only (spec §4.8 (c)).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::files::rel_path;
use super::rows::value_to_string;
use super::shared::Shared;

const ARGS: &[&str] = &[
    "url",
    "dst-path",
    "mode",
    "output",
    "check-certificate",
    "http-method",
    "keep-result",
    "as-value",
    "user",
    "password",
];

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let hostport = rest.split('/').next().unwrap_or("");
    let host = hostport
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(hostport);
    host == "localhost"
        || host
            .parse::<std::net::Ipv4Addr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

pub async fn fetch(sh: &Arc<Shared>, body: &Map<String, Value>) -> Result<Value, ApiError> {
    for k in body.keys() {
        if !ARGS.contains(&k.as_str()) {
            return Err(ApiError::unknown_parameter(k));
        }
    }
    let get = |k: &str| body.get(k).and_then(value_to_string);
    let url = get("url").ok_or_else(|| ApiError::bad("missing value for argument url"))?;
    if !is_loopback_http(&url) {
        return Err(ApiError::failure(
            "only loopback http URLs are reachable from the simulator",
        ));
    }
    let dst = get("dst-path").unwrap_or_else(|| {
        url.rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("fetched")
            .to_string()
    });
    let rel = rel_path(&dst)?;
    let abs = sh.dev().disk_root.join(rel);
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| ApiError::failure(&e.to_string()))?;
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| ApiError::failure(&format!("connection failed: {e}")))?;
    if !resp.status().is_success() {
        return Err(ApiError::failure(&format!(
            "closing connection: <{} {}> ({url})",
            resp.status().as_u16(),
            resp.status().canonical_reason().unwrap_or("")
        )));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ApiError::failure(&e.to_string()))?;
    if let Some(parent) = abs.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ApiError::failure(&e.to_string()))?;
    }
    std::fs::write(&abs, &bytes).map_err(|e| ApiError::failure(&e.to_string()))?;
    sh.dev().log(
        "fetch,info",
        format!("Download from {url} to {dst} FINISHED"),
    );
    let kib = (bytes.len() as u64).div_ceil(1024).to_string();
    Ok(json!([{
        "status": "finished",
        "downloaded": kib,
        "total": kib,
        "duration": format!("{}s", started.elapsed().as_secs()),
    }]))
}
