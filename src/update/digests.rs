//! Which tag of a repository to deploy and its digest (images.md §5.2 step 1): HEAD each tag in
//! preference order with the four manifest types in `Accept`; the first 2xx with a
//! `Docker-Content-Digest` wins. Top-level digests only (an index's own digest), compared like
//! with like (§3.3).

use crate::oci::{self, ClientOptions, OciError, Registry};
use std::time::Duration;

/// Talks to the local registry of `registryURL`.
#[derive(Clone)]
pub struct Digests {
    http: reqwest::Client,
    opts: ClientOptions,
    /// `host:port`.
    host: String,
    /// `http`/`https` as configured.
    scheme: Option<String>,
}

impl Digests {
    /// `ca`: the registry CA; `None` skips certificate checks (logged by the caller).
    pub fn new(registry_url: &str, ca: Option<Vec<u8>>) -> Result<Digests, OciError> {
        let (scheme, rest) = oci::reference::split_scheme(registry_url.trim());
        let host = rest
            .trim_end_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let opts = ClientOptions {
            check_certificate: ca.is_some(),
            extra_roots: ca.into_iter().collect(),
            allow_plain_http: true,
            request_timeout: Some(Duration::from_secs(15)),
            ..ClientOptions::default()
        };
        let http = Registry::http_client(&opts)?;
        Ok(Digests {
            http,
            opts,
            host,
            scheme,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The digest `repo:reference` points at now.
    pub async fn digest(&self, repo: &str, reference: &str) -> Result<String, OciError> {
        let image = oci::Reference {
            host: self.host.clone(),
            scheme: self.scheme.clone(),
            repo: repo.to_string(),
            reference: reference.to_string(),
        };
        let mut registry = match &self.scheme {
            Some(_) => Registry::with_client(self.http.clone(), &image, &self.opts),
            None => Registry::connect(&image, &self.opts).await?,
        };
        oci::manifest_digest(&mut registry, reference).await
    }

    /// The first tag of `tags` that exists, with its digest; `None` when none does. Errors
    /// other than "not found" are logged and end the search (the registry is unwell).
    pub async fn newest(&self, repo: &str, tags: &[String]) -> Option<(String, String)> {
        for tag in tags {
            match self.digest(repo, tag).await {
                Ok(d) => return Some((tag.clone(), d)),
                Err(OciError::NotFound(_)) => continue,
                Err(e) => {
                    tracing::warn!(repo, tag, error = %e, "digest lookup failed");
                    return None;
                }
            }
        }
        tracing::warn!(repo, ?tags, "none of the watched tags exists");
        None
    }
}
