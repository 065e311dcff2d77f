//! `POST /v2/_pull` (mkube extension, spec images.md §2.3): copy `<host>/<repo>:<tag>`
//! from an upstream registry into the store under the full upstream repository path.
//! Indexes are stored with their `linux/arm64` child (else the first entry).
//!
//! Upstream access: plain HTTP for loopback hosts, HTTPS with the built-in webpki root
//! store otherwise. Every blob is streamed to `tmp/`, digest-verified, then committed.
//! On 401 the bearer-token flow of §2.7 runs once (realm, service, scope URL-encoded) and
//! the request is retried with the token.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use futures::StreamExt;
use sha2::Digest as _;
use tokio::io::AsyncWriteExt;

use super::handlers::{
    DOCKER_LIST, DOCKER_MANIFEST, MANIFEST_LIMIT, OCI_INDEX, OCI_MANIFEST, OciError, Registry,
    commit_manifest, known_manifest_type,
};
use super::names::{Digest, Reference, valid_name, valid_tag};

type R = Result<HttpResponse, OciError>;

fn bad(m: impl Into<String>) -> OciError {
    OciError::new(400, "UNSUPPORTED", m)
}
fn upstream(m: impl Into<String>) -> OciError {
    OciError::new(502, "UNKNOWN", m)
}

/// `host/repo[:tag|@digest]` → (host, repo, reference).
pub fn parse_image(image: &str) -> Option<(String, String, Reference)> {
    let (host, rest) = image.split_once('/')?;
    if !(host.contains('.') || host.contains(':') || host == "localhost") {
        return None;
    }
    let (repo, reference) = if let Some((r, d)) = rest.split_once('@') {
        (r, Reference::Digest(Digest::parse(d)?))
    } else {
        match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Reference::Tag(t.to_string())),
            _ => (rest, Reference::Tag("latest".into())),
        }
    };
    if let Reference::Tag(t) = &reference
        && !valid_tag(t)
    {
        return None;
    }
    valid_name(repo).then(|| (host.to_string(), repo.to_string(), reference))
}

fn is_loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, _)| h);
    h == "localhost" || h.starts_with("127.") || h == "[::1]"
}

fn client() -> Result<reqwest::Client, OciError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| upstream(format!("tls: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| upstream(format!("client: {e}")))
}

struct Upstream {
    client: reqwest::Client,
    base: String,
    repo: String,
    token: tokio::sync::Mutex<Option<String>>,
}

/// `Bearer realm="…",service="…",scope="…"` → (realm, service, scope).
pub fn parse_bearer(h: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = h
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| h.trim().strip_prefix("bearer "))?;
    let (mut realm, mut service, mut scope) = (None, None, None);
    let mut s = rest;
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let k = k.trim().trim_start_matches(',').trim();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        match k {
            "realm" => realm = Some(v.to_string()),
            "service" => service = Some(v.to_string()),
            "scope" => scope = Some(v.to_string()),
            _ => {}
        }
        s = next.trim_start_matches(',').trim_start();
    }
    Some((realm?, service, scope))
}

impl Upstream {
    /// GET with the cached token; on 401 fetch a token once and retry.
    async fn get(&self, url: &str, accept: Option<&str>) -> Result<reqwest::Response, OciError> {
        let build = |token: Option<&str>| {
            let mut rb = self.client.get(url);
            if let Some(a) = accept {
                rb = rb.header("Accept", a);
            }
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            rb
        };
        let cached = self.token.lock().await.clone();
        let resp = build(cached.as_deref())
            .send()
            .await
            .map_err(|e| upstream(format!("{url}: {e}")))?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some((realm, service, scope)) = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_bearer)
        else {
            return Ok(resp);
        };
        let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", self.repo));
        let mut q: Vec<(&str, String)> = vec![("scope", scope)];
        if let Some(s) = service {
            q.push(("service", s));
        }
        let v: serde_json::Value = self
            .client
            .get(&realm)
            .query(&q)
            .send()
            .await
            .map_err(|e| upstream(format!("token: {e}")))?
            .json()
            .await
            .map_err(|e| upstream(format!("token: {e}")))?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| upstream("token endpoint returned no token"))?
            .to_string();
        *self.token.lock().await = Some(token.clone());
        build(Some(&token))
            .send()
            .await
            .map_err(|e| upstream(format!("{url}: {e}")))
    }

    async fn manifest(&self, reference: &str) -> Result<(Vec<u8>, String), OciError> {
        let resp = self
            .client
            .get(format!(
                "{}/v2/{}/manifests/{reference}",
                self.base, self.repo
            ))
            .header(
                "Accept",
                format!("{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}, {DOCKER_LIST}"),
            )
            .send()
            .await
            .map_err(|e| upstream(format!("manifest: {e}")))?;
        if !resp.status().is_success() {
            return Err(upstream(format!(
                "manifest {reference}: HTTP {}",
                resp.status()
            )));
        }
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let mut body = Vec::new();
        let mut s = resp.bytes_stream();
        while let Some(c) = s.next().await {
            let c = c.map_err(|e| upstream(format!("manifest body: {e}")))?;
            if body.len() + c.len() > MANIFEST_LIMIT {
                return Err(upstream("upstream manifest too large"));
            }
            body.extend_from_slice(&c);
        }
        if !matches!(body.first(), Some(b'{')) {
            return Err(upstream("upstream manifest is not JSON"));
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| upstream("upstream manifest is not JSON"))?;
        let media = if known_manifest_type(&ct) {
            ct
        } else {
            json.get("mediaType")
                .and_then(|m| m.as_str())
                .filter(|m| known_manifest_type(m))
                .ok_or_else(|| upstream("unknown upstream manifest type"))?
                .to_string()
        };
        Ok((body, media))
    }

    /// Copies one blob unless present; true when it was copied.
    async fn blob(&self, reg: &Registry, d: &Digest) -> Result<bool, OciError> {
        if reg.store.blob_size(d).is_some() {
            return Ok(false);
        }
        let resp = self
            .get(&format!("{}/v2/{}/blobs/{d}", self.base, self.repo), None)
            .await?;
        if !resp.status().is_success() {
            return Err(upstream(format!("blob {d}: HTTP {}", resp.status())));
        }
        if resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
        {
            return Err(upstream(format!("blob {d}: upstream answered HTML")));
        }
        let tmp = reg.store.tmp_path();
        let result = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            let mut h = sha2::Sha256::new();
            let mut s = resp.bytes_stream();
            while let Some(c) = s.next().await {
                let c = c.map_err(std::io::Error::other)?;
                f.write_all(&c).await?;
                h.update(&c);
            }
            f.sync_all().await?;
            Ok::<_, std::io::Error>(Digest::from_hasher(h))
        }
        .await;
        match result {
            Ok(got) if got == *d => {
                reg.store.commit_blob(&tmp, d).await?;
                Ok(true)
            }
            Ok(got) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(upstream(format!("blob {d}: upstream sent {got}")))
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(upstream(format!("blob {d}: {e}")))
            }
        }
    }
}

fn descriptors(json: &serde_json::Value) -> Result<Vec<Digest>, OciError> {
    let mut out = Vec::new();
    let one = |v: &serde_json::Value| {
        v.get("digest")
            .and_then(|d| d.as_str())
            .and_then(Digest::parse)
            .ok_or_else(|| upstream("upstream descriptor without a valid digest"))
    };
    out.push(one(json.get("config").unwrap_or(&serde_json::Value::Null))?);
    for l in json
        .get("layers")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
    {
        out.push(one(l)?);
    }
    Ok(out)
}

/// Picks the linux/arm64 child of an index, else the first entry.
fn pick_child(index: &serde_json::Value) -> Result<Digest, OciError> {
    let list = index
        .get("manifests")
        .and_then(|m| m.as_array())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| upstream("upstream index without manifests"))?;
    let arm = list.iter().find(|m| {
        let p = &m["platform"];
        p["os"] == "linux" && p["architecture"] == "arm64"
    });
    let chosen = match arm {
        Some(m) => m,
        None => {
            tracing::warn!("index has no linux/arm64 child; taking the first entry");
            &list[0]
        }
    };
    chosen
        .get("digest")
        .and_then(|d| d.as_str())
        .and_then(Digest::parse)
        .ok_or_else(|| upstream("upstream index entry without a valid digest"))
}

pub async fn handle(reg: &Registry, payload: web::Payload) -> R {
    #[derive(serde::Deserialize)]
    struct Body {
        image: String,
    }
    let mut payload = payload;
    let mut raw = Vec::new();
    while let Some(c) = payload.next().await {
        let c = c.map_err(|e| bad(format!("reading body: {e}")))?;
        if raw.len() + c.len() > 64 * 1024 {
            return Err(bad("body too large"));
        }
        raw.extend_from_slice(&c);
    }
    let body: Body = serde_json::from_slice(&raw)
        .map_err(|_| bad("body must be {\"image\":\"<host>/<repo>:<tag>\"}"))?;
    let (host, repo, reference) = parse_image(&body.image)
        .ok_or_else(|| bad(format!("invalid image reference {:?}", body.image)))?;
    let scheme = if is_loopback(&host) { "http" } else { "https" };
    let up = Upstream {
        client: client()?,
        base: format!("{scheme}://{host}"),
        repo: repo.clone(),
        token: tokio::sync::Mutex::new(None),
    };
    let (bytes, media) = up.manifest(&reference.to_string()).await?;
    if let Reference::Digest(d) = &reference
        && Digest::of(&bytes) != *d
    {
        return Err(upstream(
            "upstream manifest does not match the requested digest",
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| upstream("upstream manifest is not JSON"))?;
    let (image_json, child) = if media == OCI_INDEX || media == DOCKER_LIST {
        let cd = pick_child(&json)?;
        let (cb, cm) = up.manifest(&cd.to_string()).await?;
        if Digest::of(&cb) != cd {
            return Err(upstream(
                "upstream child manifest does not match its digest",
            ));
        }
        let cj: serde_json::Value =
            serde_json::from_slice(&cb).map_err(|_| upstream("child is not JSON"))?;
        (cj, Some((cd, cb, cm)))
    } else {
        (json, None)
    };
    let blobs = descriptors(&image_json)?;
    let total = blobs.len();
    let mut copied = 0;
    for d in &blobs {
        if up.blob(reg, d).await? {
            copied += 1;
        }
    }
    if let Some((cd, cb, cm)) = child {
        commit_manifest(reg, &repo, &Reference::Digest(cd), cb, cm).await?;
    }
    commit_manifest(reg, &repo, &reference, bytes, media).await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(
        serde_json::json!({"status": "ok", "manifest": true, "blobs": copied, "total": total})
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let (h, r, t) = parse_image("ghcr.io/glennswest/nats:v1").unwrap();
        assert_eq!(
            (h.as_str(), r.as_str(), t),
            ("ghcr.io", "glennswest/nats", Reference::Tag("v1".into()))
        );
        let (h, _, t) = parse_image("127.0.0.1:5000/a").unwrap();
        assert_eq!(
            (h.as_str(), t),
            ("127.0.0.1:5000", Reference::Tag("latest".into()))
        );
        assert!(parse_image("nats:v1").is_none());
        assert!(parse_image("ghcr.io/../x:v1").is_none());
    }

    #[test]
    fn bearer_challenge() {
        let (r, s, sc) = parse_bearer(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(r, "https://ghcr.io/token");
        assert_eq!(s.as_deref(), Some("ghcr.io"));
        assert_eq!(sc.as_deref(), Some("repository:a/b:pull"));
        let (r, s, sc) = parse_bearer(r#"Bearer realm="https://x/t""#).unwrap();
        assert_eq!((r.as_str(), s, sc), ("https://x/t", None, None));
        assert!(parse_bearer("Basic realm=x").is_none());
    }
}
