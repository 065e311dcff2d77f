//! Host names without glibc's NSS, for the static binaries of the scratch images.
//!
//! In a static binary glibc's `getaddrinfo` can load no NSS module, and in an empty root there
//! is no `/etc/hosts`, so it does not even know `localhost`. Every HTTP client mkube has
//! resolves through [`Resolver`] instead (hickory-resolver, pure Rust): IP literals as they are
//! (reqwest never asks a resolver for them), `localhost` by RFC 6761, `/etc/hosts` when present,
//! then DNS to the name servers of `/etc/resolv.conf` when present. Without a resolv.conf a name
//! outside `/etc/hosts` fails with an error that says so; nothing falls back to a public server.
//!
//! The NATS client resolves through tokio (`getaddrinfo`) on every (re)connect, with no hook,
//! so [`nats_url`] turns the host names of a plain `nats://` URL list into addresses first.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::ResolverConfig;
use hickory_resolver::net::runtime::TokioRuntimeProvider;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A lazily built hickory resolver; cheap to create, one per HTTP client.
#[derive(Clone, Default)]
pub struct Resolver {
    inner: Arc<OnceLock<Built>>,
}

struct Built {
    resolver: TokioResolver,
    /// No usable `/etc/resolv.conf`: only `localhost` and `/etc/hosts` names resolve.
    no_servers: Option<String>,
}

impl Resolver {
    /// A resolver for [`reqwest::ClientBuilder::dns_resolver`].
    pub fn for_http() -> Arc<Resolver> {
        Arc::new(Resolver::default())
    }

    fn built(&self) -> io::Result<&Built> {
        if let Some(b) = self.inner.get() {
            return Ok(b);
        }
        let built = build()?;
        Ok(self.inner.get_or_init(|| built))
    }

    /// Every address of `host` (an IP literal, `localhost`, a name in `/etc/hosts` or DNS).
    pub async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let built = self.built()?;
        match built.resolver.lookup_ip(bare).await {
            Ok(found) => {
                let ips: Vec<IpAddr> = found.iter().collect();
                if ips.is_empty() {
                    Err(not_found(bare, "no address"))
                } else {
                    Ok(ips)
                }
            }
            Err(e) => Err(match &built.no_servers {
                Some(why) => not_found(bare, &format!("not in /etc/hosts and {why}")),
                None => not_found(bare, &e.to_string()),
            }),
        }
    }
}

fn not_found(host: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("cannot resolve {host}: {why}"),
    )
}

fn build() -> io::Result<Built> {
    let (builder, no_servers) = match TokioResolver::builder_tokio() {
        Ok(b) => (b, None),
        Err(e) => (
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(Vec::new()),
                TokioRuntimeProvider::default(),
            ),
            Some(format!("no DNS servers ({RESOLV_CONF}: {e})")),
        ),
    };
    let resolver = builder
        .build()
        .map_err(|e| io::Error::other(format!("resolver: {e}")))?;
    Ok(Built {
        resolver,
        no_servers,
    })
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.lookup(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// `urls` (a comma list of NATS server URLs) with every host name of a plain `nats://` (or
/// scheme-less) URL replaced by its first address, IPv4 first. TLS URLs keep their names
/// (the certificate is checked against them); a name that does not resolve now is kept, with a
/// warning, and left to the client's own resolution. One entry per server: the NATS client
/// takes several servers as a list (it does not split a comma list itself).
pub async fn nats_urls(urls: &str) -> Vec<String> {
    let resolver = Resolver::default();
    let mut out = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        out.push(resolve_nats_one(&resolver, url).await);
    }
    out
}

async fn resolve_nats_one(resolver: &Resolver, url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    if scheme.is_some_and(|s| !s.eq_ignore_ascii_case("nats")) {
        return url.to_string();
    }
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = split_host_port(hostport);
    if host.is_empty()
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
    {
        return url.to_string();
    }
    match resolver.lookup(host).await {
        Ok(ips) => {
            let ip = ips
                .iter()
                .find(|ip| ip.is_ipv4())
                .or(ips.first())
                .copied()
                .expect("lookup returns at least one address");
            let host = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            let mut s = String::new();
            if let Some(sch) = scheme {
                s.push_str(sch);
                s.push_str("://");
            }
            if let Some(u) = userinfo {
                s.push_str(u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push(':');
                s.push_str(p);
            }
            s
        }
        Err(e) => {
            tracing::warn!(url, error = %e, "NATS host name not resolved; left to the client");
            url.to_string()
        }
    }
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    let s = s.trim_end_matches('/');
    if let Some(end) = s.find(']') {
        let port = s[end + 1..].strip_prefix(':');
        return (&s[..=end], port);
    }
    match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost_need_no_files() {
        let r = Resolver::default();
        assert_eq!(
            r.lookup("127.0.0.9").await.unwrap(),
            vec!["127.0.0.9".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            r.lookup("[::1]").await.unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        let local = r.lookup("localhost").await.unwrap();
        assert!(local.iter().all(|ip| ip.is_loopback()) && !local.is_empty());
    }

    #[tokio::test]
    async fn nats_urls_get_addresses_and_keep_the_rest() {
        assert_eq!(
            nats_urls("nats://localhost:4222").await,
            ["nats://127.0.0.1:4222"]
        );
        assert_eq!(
            nats_urls("nats://u:p@localhost:4222, 127.0.0.2:4223").await,
            ["nats://u:p@127.0.0.1:4222", "127.0.0.2:4223"]
        );
        assert_eq!(
            nats_urls("tls://localhost:4222").await,
            ["tls://localhost:4222"]
        );
        assert_eq!(nats_urls("nats://[::1]:4222").await, ["nats://[::1]:4222"]);
        assert_eq!(split_host_port("h"), ("h", None));
    }

    /// Every HTTP client of the shipped programs (the simulators aside) resolves through
    /// [`Resolver`] and brings its own TLS roots, so none needs NSS or CA files at run time.
    #[test]
    fn every_http_client_needs_no_system_files() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src.clone()];
        let mut checked = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    if path != src.join("sim") {
                        stack.push(path);
                    }
                    continue;
                }
                if path == src.join("resolve.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let name = path.display();
                for bad in ["reqwest::Client::new(", "reqwest::get("] {
                    assert!(!text.contains(bad), "{name}: {bad} uses system files");
                }
                for (at, _) in text.match_indices("reqwest::Client::builder()") {
                    let chain = &text[at..];
                    let chain = &chain[..chain.find(".build()").unwrap_or(chain.len())];
                    for needed in [".dns_resolver(", ".tls_backend_preconfigured("] {
                        assert!(chain.contains(needed), "{name}: a client without {needed}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 4, "found only {checked} clients");
    }
}
