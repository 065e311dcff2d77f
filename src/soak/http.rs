//! A plain-HTTP loopback client and the few JSON calls the soak makes.

use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::time::Duration;

pub fn client(timeout: Duration) -> Result<reqwest::Client> {
    crate::tls::ensure_ring_provider();
    // Plain HTTP on loopback only, but built like every client of the crate (no system files).
    let tls = crate::tls::public_roots_config(&[]).map_err(|e| anyhow!(e))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .no_proxy()
        .dns_resolver(crate::resolve::Resolver::for_http())
        .build()
        .context("building the HTTP client")
}

/// GET `url` as JSON; any non-2xx answer is an error naming the status.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value> {
    json_of(http.get(url), url).await
}

/// GET `url` with Basic auth (the device's REST API).
pub async fn get_device(http: &reqwest::Client, url: &str, password: &str) -> Result<Value> {
    json_of(http.get(url).basic_auth("admin", Some(password)), url).await
}

async fn json_of(request: reqwest::RequestBuilder, url: &str) -> Result<Value> {
    let r = request.send().await.with_context(|| format!("GET {url}"))?;
    let status = r.status();
    if !status.is_success() {
        return Err(anyhow!("GET {url}: {status}"));
    }
    r.json().await.with_context(|| format!("GET {url}: body"))
}

/// Sends `body` (JSON, or nothing) to `url`; errors only when the control call fails.
pub async fn control(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<()> {
    let mut req = http.request(method.clone(), url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req
        .send()
        .await
        .with_context(|| format!("{method} {url}"))?;
    if !r.status().is_success() {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        return Err(anyhow!("{method} {url}: {status} {text}"));
    }
    Ok(())
}
