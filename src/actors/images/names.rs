//! Pure naming rules of the image cache: reference normalisation (images.md §3.2), the
//! push-notify image (§4.1), tarball slugs (NAME-7, §3.4) and host-visible paths (NAME-8,
//! §3.9). References are taken apart by [`crate::oci::reference`] only.

use crate::config::StorageConfig;
use crate::oci::reference;
use crate::registry::names::{valid_name, valid_tag};
use sha2::{Digest, Sha256};

/// Rewrites local registry aliases to the primary address (§3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normaliser {
    /// `registry.localAddresses`: the first is the primary, the others aliases of it.
    pub local_addresses: Vec<String>,
}

impl Normaliser {
    pub fn new(local_addresses: &[String]) -> Self {
        Normaliser {
            local_addresses: local_addresses
                .iter()
                .map(|a| reference::split_scheme(a.trim()).1.to_string())
                .filter(|a| !a.is_empty())
                .collect(),
        }
    }

    pub fn primary(&self) -> Option<&str> {
        self.local_addresses.first().map(String::as_str)
    }

    /// `localhost/<rest>` and `<alias>/<rest>` → `<primary>/<rest>`; anything else unchanged.
    /// The first path component is compared literally with the configured addresses, which
    /// need not look like hosts to the reference grammar.
    pub fn normalise(&self, reference: &str) -> String {
        let reference = reference.trim();
        let Some(primary) = self.primary() else {
            return reference.to_string();
        };
        let Some((host, rest)) = reference.split_once('/') else {
            return reference.to_string();
        };
        if host == "localhost" || self.local_addresses[1..].iter().any(|a| a == host) {
            return format!("{primary}/{rest}");
        }
        reference.to_string()
    }

    /// Local: registry part `localhost`, `localhost:<port>` or a `localAddresses` entry (IMG-4).
    pub fn is_local(&self, reference: &str) -> bool {
        let Some((host, _)) = reference.split_once('/') else {
            return false;
        };
        host == "localhost"
            || host.starts_with("localhost:")
            || self.local_addresses.iter().any(|a| a == host)
    }

    /// A pushed repository (`microdns`, or with a host) as the repository of cached refs:
    /// without a registry part it lives on the primary.
    pub fn pushed_repository(&self, repo: &str) -> String {
        let repo = repo.trim();
        match self.primary() {
            Some(primary) if reference::split_registry(repo).0.is_none() => {
                format!("{primary}/{repo}")
            }
            _ => self.normalise(repo),
        }
    }
}

/// NAME-7 slug (`a-z 0-9 -` kept, `A-Z` lower-cased, everything else `-`) plus, as §3.4
/// recommends, `-` and the first 8 hex of sha256(ref) so distinct refs never share a file.
pub fn slug(reference: &str) -> String {
    let base: String = reference
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let hash = hex::encode(Sha256::digest(reference.as_bytes()));
    format!("{base}-{}", &hash[..8])
}

/// NAME-8 / §3.9: a path inside mkube's container as the device sees it. The first
/// `persistentMounts` entry whose `containerPath` is a whole-component prefix maps to its
/// `hostPath`; else `<selfRootDir>/<path>` when set; else the path. No leading `/`.
pub fn host_visible(path: &str, storage: &StorageConfig) -> String {
    for mount in &storage.persistent_mounts {
        let prefix = mount.container_path.trim_end_matches('/');
        if prefix.is_empty() {
            continue;
        }
        let rest = match path.strip_prefix(prefix) {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => rest,
            _ => continue,
        };
        let host = mount.host_path.trim_matches('/');
        return format!("{host}{rest}").trim_start_matches('/').to_string();
    }
    let rel = path.trim_start_matches('/');
    let root = storage.self_root_dir.trim_matches('/');
    if root.is_empty() {
        rel.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

/// A push notification's `image` (§4.1): `repo:tag`, `repo@sha256:…`, `repo:sha256:<64hex>`,
/// or `repo` (tag `latest`). Returns (repository, tag or `None` for a digest); `None` when it
/// is not a reference the distribution grammar allows (a notification of junk would record a
/// push of it).
pub fn parse_pushed(image: &str) -> Option<(String, Option<String>)> {
    let (repo, tag) = split_pushed(image.trim())?;
    let tag_ok = tag.as_deref().is_none_or(valid_tag);
    (tag_ok && valid_repository(&repo)).then_some((repo, tag))
}

fn split_pushed(image: &str) -> Option<(String, Option<String>)> {
    if image.is_empty() {
        return None;
    }
    let parts = reference::split(image);
    if let Some(digest) = parts.digest {
        // The repository as written before the `@`, a tag included (as it always was).
        let repo = &image[..image.len() - digest.len() - 1];
        return (!repo.is_empty() && reference::is_sha256(digest))
            .then(|| (repo.to_string(), None));
    }
    // The registry's webhook writes `<repo>:<reference>`, so a digest push arrives as
    // `repo:sha256:<hex>`, which splits as name `repo:sha256` and tag `<hex>`.
    if let Some(repo) = parts.name.strip_suffix(":sha256")
        && !repo.is_empty()
        && reference::is_sha256(&image[repo.len() + 1..])
    {
        return Some((repo.to_string(), None));
    }
    match parts.tag {
        Some(tag) => (!parts.name.is_empty() && !tag.is_empty())
            .then(|| (parts.name.to_string(), Some(tag.to_string()))),
        None => Some((image.to_string(), Some("latest".to_string()))),
    }
}

/// `[host[:port]/]path[:tag]`: a host of name characters, a path the distribution grammar
/// allows, and a tag (kept by digest notifications) that is one.
fn valid_repository(repo: &str) -> bool {
    let (host, path) = reference::split_registry(repo);
    let host_ok = host.is_none_or(|h| {
        h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    });
    let path = match path.rsplit_once(':') {
        Some((p, tag)) if !p.ends_with('/') && valid_tag(tag) => p,
        _ => path,
    };
    host_ok && valid_name(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PersistentMount;

    fn n() -> Normaliser {
        Normaliser::new(&["192.168.200.3:5000".into(), "192.168.200.2:5000".into()])
    }

    #[test]
    fn aliases_and_localhost_become_the_primary() {
        let n = n();
        assert_eq!(
            n.normalise("192.168.200.2:5000/microdns:edge"),
            "192.168.200.3:5000/microdns:edge"
        );
        assert_eq!(n.normalise("localhost/x:1"), "192.168.200.3:5000/x:1");
        assert_eq!(n.normalise("nginx:latest"), "nginx:latest");
        assert_eq!(n.normalise("localhost:5000/x:1"), "localhost:5000/x:1");
        assert!(n.is_local("localhost:5000/x:1"));
        assert!(n.is_local("192.168.200.2:5000/x"));
        assert!(!n.is_local("ghcr.io/x"));
        assert_eq!(
            Normaliser::default().normalise("localhost/x"),
            "localhost/x"
        );
        let spelled = Normaliser::new(&["https://h:5000/".into(), " http://a:1 ".into()]);
        assert_eq!(spelled.local_addresses, ["h:5000", "a:1"]);
    }

    #[test]
    fn slugs_follow_name7_plus_hash() {
        let s = slug("localhost:5000/myapp:v1.0.0");
        assert!(s.starts_with("localhost-5000-myapp-v1-0-0-"), "{s}");
        assert_eq!(s.len(), "localhost-5000-myapp-v1-0-0-".len() + 8);
        assert_ne!(slug("a/b:c"), slug("a-b:c"));
        assert!(slug("Nginx:latest").starts_with("nginx-latest-"));
    }

    #[test]
    fn host_visible_matches_whole_components() {
        let mut s = StorageConfig {
            persistent_mounts: vec![PersistentMount {
                container_path: "/raid1/cache".into(),
                host_path: "raid1/cache".into(),
            }],
            ..StorageConfig::default()
        };
        assert_eq!(host_visible("/raid1/cache/x.tar", &s), "raid1/cache/x.tar");
        assert_eq!(host_visible("/raid1/cachex/y", &s), "raid1/cachex/y");
        s.self_root_dir = "raid1/images/kube.gt.lo".into();
        assert_eq!(
            host_visible("/raid1/cachex/y", &s),
            "raid1/images/kube.gt.lo/raid1/cachex/y"
        );
    }

    #[test]
    fn pushed_images_parse_tags_and_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse_pushed("microdns:edge"),
            Some(("microdns".into(), Some("edge".into())))
        );
        assert_eq!(
            parse_pushed(&format!("mkube:{d}")),
            Some(("mkube".into(), None))
        );
        assert_eq!(
            parse_pushed(&format!("mkube@{d}")),
            Some(("mkube".into(), None))
        );
        assert_eq!(
            parse_pushed("app"),
            Some(("app".into(), Some("latest".into())))
        );
        assert_eq!(
            parse_pushed("127.0.0.1:5000/app"),
            Some(("127.0.0.1:5000/app".into(), Some("latest".into())))
        );
        assert_eq!(parse_pushed(""), None);
        assert_eq!(parse_pushed("app:"), None);
        assert_eq!(parse_pushed(":v1"), None);
        assert_eq!(parse_pushed("app@sha256:abc"), None);
        assert_eq!(
            parse_pushed(&format!("h:1/app:v1@{d}")),
            Some(("h:1/app:v1".into(), None))
        );
        // Outside the distribution grammar: refused, not recorded as a push of junk.
        for junk in [
            format!(":{d}"),
            "*\u{196ab}#\\".to_string(),
            "App:v1".into(),
            "app:-v1".into(),
            "a//b:v1".into(),
            "h/../x:v1".into(),
            "h:1/app:v 1".into(),
            "bad host!/app:v1".into(),
        ] {
            assert_eq!(parse_pushed(&junk), None, "{junk}");
        }
        assert_eq!(
            parse_pushed("h:1/a/b:v2"),
            Some(("h:1/a/b".into(), Some("v2".into())))
        );
        assert_eq!(n().pushed_repository("localhost/x"), "192.168.200.3:5000/x");
        assert_eq!(n().pushed_repository("ghcr.io/x"), "ghcr.io/x");
        assert_eq!(
            n().pushed_repository("microdns"),
            "192.168.200.3:5000/microdns"
        );
    }
}
