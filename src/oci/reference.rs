//! Image references, `[registry[:port]/]repo[:tag][@digest]`: the one place they are taken
//! apart. [`split`] cuts one as written (no defaulting, no validation); [`parse`] builds on it
//! to resolve a `remote-image=` (§3.1) to the registry, repository and tag or digest to pull:
//! `host:port/repo:tag`, `host/repo@sha256:…`, or `repo[:tag]` on the configured
//! `registry-url`.

use super::error::OciError;

/// An image reference cut into its parts as written: `name[:tag][@digest]`, where `name` is
/// `[registry/]path`. Nothing is defaulted or validated; each caller applies its own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Everything before the tag and the digest (`host:5000/ns/app`).
    pub name: &'a str,
    /// What follows a `:` after the last `/` of the name (a `:` before it is a registry
    /// port, API-5); `Some("")` for a trailing `:`.
    pub tag: Option<&'a str>,
    /// What follows the first `@`, unchecked.
    pub digest: Option<&'a str>,
}

impl<'a> Parts<'a> {
    /// The registry part of the name, when its first component names a host.
    pub fn registry(&self) -> Option<&'a str> {
        split_registry(self.name).0
    }

    /// The repository path on its registry: the name without the registry part.
    pub fn path(&self) -> &'a str {
        split_registry(self.name).1
    }

    /// The tag, unless the reference is pinned by a digest.
    pub fn tag_unless_pinned(&self) -> Option<&'a str> {
        self.digest.is_none().then_some(self.tag).flatten()
    }
}

/// Cuts `reference` at its first `@` (the digest), then the part before it at the last `:`
/// that follows the last `/` (the tag).
pub fn split(reference: &str) -> Parts<'_> {
    let (named, digest) = match reference.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (reference, None),
    };
    let last_slash = named.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match named[last_slash..].rfind(':') {
        Some(i) => (&named[..last_slash + i], Some(&named[last_slash + i + 1..])),
        None => (named, None),
    };
    Parts { name, tag, digest }
}

/// `[registry/]path` → (registry, path). The first component is a registry when it contains
/// a `.` or a `:` or is `localhost` (`ghcr.io/a`, `host:5000/a`); otherwise the whole name is
/// the path (`library/alpine`, `alpine`).
pub fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, path))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), path)
        }
        _ => (None, name),
    }
}

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

/// Resolves `input` to the registry, repository and tag or digest to pull; a reference
/// without a registry part lives on `default_registry` (Docker Hub when empty).
pub fn parse(input: &str, default_registry: &str) -> Result<Reference, OciError> {
    let invalid = || OciError::Malformed(format!("invalid image reference {input}"));
    let (scheme, rest) = split_scheme(input.trim());
    let parts = split(rest);
    let reference = match (parts.tag, parts.digest) {
        (None, None) => "latest".to_string(),
        (Some(tag), None) if plausible_tag(tag) => tag.to_string(),
        (None, Some(digest)) if is_sha256(digest) => digest.to_string(),
        _ => return Err(invalid()),
    };
    let (host, scheme, mut repo) = match parts.registry() {
        Some(host) => (host.to_string(), scheme, parts.path().to_string()),
        None => {
            let configured = default_registry.trim();
            let configured = if configured.is_empty() {
                DOCKER_HUB
            } else {
                configured
            };
            let (default_scheme, default_rest) = split_scheme(configured);
            let host = default_rest.split('/').next().unwrap_or("").to_string();
            (host, scheme.or(default_scheme), parts.name.to_string())
        }
    };
    if host.is_empty() || repo.is_empty() || !plausible_repo(&repo) {
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

/// `https://host/` → (`https`, `host`): a spelled-out scheme and the address without it or
/// trailing `/`.
pub fn split_scheme(s: &str) -> (Option<String>, &str) {
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

/// A client's lenient check (the registry applies the distribution spec's exact rules).
fn plausible_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A client's lenient check: lowercase components of `a-z 0-9 _ . -`.
fn plausible_repo(repo: &str) -> bool {
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

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn parts<'a>(name: &'a str, tag: Option<&'a str>, digest: Option<&'a str>) -> Parts<'a> {
        Parts { name, tag, digest }
    }

    #[test]
    fn split_cuts_tag_only_after_the_last_slash() {
        // API-5: a registry port is not a tag.
        assert_eq!(
            split("host:5000/app:v1"),
            parts("host:5000/app", Some("v1"), None)
        );
        assert_eq!(split("host:5000/app"), parts("host:5000/app", None, None));
        assert_eq!(split("h:1/a"), parts("h:1/a", None, None));
        assert_eq!(split("nginx:latest"), parts("nginx", Some("latest"), None));
        assert_eq!(split("nginx"), parts("nginx", None, None));
        assert_eq!(split("a:b:c"), parts("a:b", Some("c"), None));
        assert_eq!(split("app:"), parts("app", Some(""), None));
        assert_eq!(split(""), parts("", None, None));
    }

    #[test]
    fn split_cuts_the_digest_at_the_first_at() {
        assert_eq!(
            split("app@sha256:abc"),
            parts("app", None, Some("sha256:abc"))
        );
        let r = format!("ghcr.io/a/b:v1@{D}");
        assert_eq!(split(&r), parts("ghcr.io/a/b", Some("v1"), Some(D)));
        assert_eq!(split("a@b@c"), parts("a", None, Some("b@c")));
        // The registry's webhook form `repo:<digest>` is a tag to the grammar.
        let r = format!("mkube:{D}");
        assert_eq!(split(&r), parts("mkube:sha256", Some(&D[7..]), None));
    }

    #[test]
    fn tag_unless_pinned() {
        assert_eq!(split("h:1/a:b").tag_unless_pinned(), Some("b"));
        assert_eq!(split("h:1/a").tag_unless_pinned(), None);
        assert_eq!(split(&format!("h:1/a:b@{D}")).tag_unless_pinned(), None);
    }

    #[test]
    fn registry_is_a_first_component_naming_a_host() {
        assert_eq!(split_registry("h:1/a/b"), (Some("h:1"), "a/b"));
        assert_eq!(
            split_registry("ghcr.io/glennswest/nats"),
            (Some("ghcr.io"), "glennswest/nats")
        );
        assert_eq!(split_registry("localhost/x"), (Some("localhost"), "x"));
        assert_eq!(split_registry("library/alpine"), (None, "library/alpine"));
        assert_eq!(split_registry("localhost"), (None, "localhost"));
        assert_eq!(split_registry("ghcr.io"), (None, "ghcr.io"));
        assert_eq!(split_registry("/x"), (None, "/x"));
        let p = split("127.0.0.1:5000/ns/app:v1");
        assert_eq!((p.registry(), p.path()), (Some("127.0.0.1:5000"), "ns/app"));
        let p = split("nats:v1");
        assert_eq!((p.registry(), p.path()), (None, "nats"));
    }

    #[test]
    fn schemes() {
        assert_eq!(
            split_scheme("https://ghcr.io/"),
            (Some("https".into()), "ghcr.io")
        );
        assert_eq!(
            split_scheme("http://127.0.0.1:5000"),
            (Some("http".into()), "127.0.0.1:5000")
        );
        assert_eq!(split_scheme("ghcr.io//"), (None, "ghcr.io"));
        assert_eq!(split_scheme("ftp://x"), (None, "ftp://x"));
    }

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
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(parse(&format!("ghcr.io/app:v1@{d}"), "").is_err());
        assert!(parse("ghcr.io/app:", "").is_err());
    }

    #[test]
    fn empty_registry_url_means_docker_hub() {
        let r = parse("alpine:3", "").unwrap();
        assert_eq!(r.host, "registry-1.docker.io");
        assert_eq!(r.repo, "library/alpine");
        assert_eq!(r.scheme.as_deref(), Some("https"));
    }
}
