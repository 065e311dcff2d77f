//! Parse `remote-image=` references (§3.1): `host:port/repo:tag`,
//! `host/repo@sha256:…`, or `repo[:tag]` on the configured `registry-url`.

use super::OciError;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` of the registry.
    pub host: String,
    /// `Some("http"|"https")` when a scheme was spelled out (ref or registry-url).
    pub scheme: Option<String>,
    /// Repository path, e.g. `library/alpine`.
    pub repo: String,
    /// Tag or `sha256:<hex>` digest.
    pub reference: String,
}

impl Reference {
    pub fn is_digest(&self) -> bool {
        self.reference.starts_with("sha256:")
    }
}

/// Used when `registry-url` is empty (RouterOS prints it as `assumed-registry-url`).
const DOCKER_HUB: &str = "https://registry-1.docker.io";

pub fn parse(input: &str, default_registry: &str) -> Result<Reference, OciError> {
    let invalid = || OciError::Malformed(format!("invalid image reference {input}"));
    let (scheme, rest) = split_scheme(input.trim());

    let (name, reference) = match rest.split_once('@') {
        Some((name, digest)) => {
            if !is_sha256(digest) {
                return Err(invalid());
            }
            (name, digest.to_string())
        }
        None => {
            let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
            match rest[last_slash..].rfind(':') {
                Some(i) => (
                    &rest[..last_slash + i],
                    rest[last_slash + i + 1..].to_string(),
                ),
                None => (rest, "latest".to_string()),
            }
        }
    };
    if !valid_tag(&reference) && !is_sha256(&reference) {
        return Err(invalid());
    }

    let (first, remainder) = name.split_once('/').unwrap_or(("", name));
    let explicit_host =
        !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost");
    let (host, scheme, mut repo) = if explicit_host {
        (first.to_string(), scheme, remainder.to_string())
    } else {
        let configured = default_registry.trim();
        let configured = if configured.is_empty() {
            DOCKER_HUB
        } else {
            configured
        };
        let (default_scheme, default_rest) = split_scheme(configured);
        let host = default_rest.split('/').next().unwrap_or("").to_string();
        (host, scheme.or(default_scheme), name.to_string())
    };
    if host.is_empty() || repo.is_empty() || !valid_repo(&repo) {
        return Err(invalid());
    }
    let host = api_host(&host).to_string();
    if host == DOCKER_HUB_API && !repo.contains('/') {
        repo = format!("library/{repo}");
    }
    Ok(Reference {
        host,
        scheme,
        repo,
        reference,
    })
}

const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The host that serves the registry API for `host`: Docker Hub's short names map to
/// `registry-1.docker.io`; every other host serves its own.
pub fn api_host(host: &str) -> &str {
    match host {
        "docker.io" | "index.docker.io" | "registry.hub.docker.com" => DOCKER_HUB_API,
        other => other,
    }
}

/// The repository path `repo` has on `host`: Docker Hub keeps one-part names under `library/`.
pub fn api_repo(host: &str, repo: &str) -> String {
    if api_host(host) == DOCKER_HUB_API && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_string()
    }
}

fn split_scheme(s: &str) -> (Option<String>, &str) {
    for scheme in ["https", "http"] {
        if let Some(rest) = s.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) {
            return (Some(scheme.to_string()), rest.trim_end_matches('/'));
        }
    }
    (None, s.trim_end_matches('/'))
}

pub fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_repo(repo: &str) -> bool {
    repo.split('/').all(|part| {
        !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_repo_tag() {
        let r = parse("127.0.0.1:5000/ns/app:v1", "https://x.example").unwrap();
        assert_eq!(r.host, "127.0.0.1:5000");
        assert_eq!(r.repo, "ns/app");
        assert_eq!(r.reference, "v1");
        assert_eq!(r.scheme, None);
    }

    #[test]
    fn parses_digest_and_default_registry() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("alpine@{d}"), "https://registry-1.docker.io").unwrap();
        assert_eq!(r.host, "registry-1.docker.io");
        assert_eq!(r.repo, "library/alpine");
        assert_eq!(r.reference, d);
        assert_eq!(r.scheme.as_deref(), Some("https"));
        let r = parse("app", "http://127.0.0.1:5000/").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repo.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "app", "latest")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("127.0.0.1:5000/App:v1", "").is_err());
        assert!(parse("127.0.0.1:5000/app@sha256:zz", "").is_err());
        assert!(parse("127.0.0.1:5000/app:bad tag", "").is_err());
        assert!(parse("", "").is_err());
    }

    #[test]
    fn empty_registry_url_means_docker_hub() {
        let r = parse("alpine:3", "").unwrap();
        assert_eq!(r.host, "registry-1.docker.io");
        assert_eq!(r.repo, "library/alpine");
        assert_eq!(r.scheme.as_deref(), Some("https"));
    }
}
