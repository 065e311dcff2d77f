//! How the OCI client talks to a registry: architecture, TLS trust, credentials, plain-HTTP
//! fallback, timeouts and the connection pool.

use std::time::Duration;

use super::error::OciError;

/// How to talk to a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Image architecture to pick from an index (`arm64` default).
    pub arch: String,
    /// `false` accepts any TLS certificate; `true` needs a CA from `extra_roots`.
    pub check_certificate: bool,
    /// PEM CA certificates trusted when `check_certificate` is true.
    pub extra_roots: Vec<Vec<u8>>,
    /// Also trust the built-in webpki roots (public registries; images.md §2.7).
    pub builtin_roots: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Without a scheme in the reference: try plain HTTP after HTTPS fails.
    pub allow_plain_http: bool,
    pub connect_timeout: Duration,
    /// Longest pause between two reads of a response.
    pub read_timeout: Duration,
    /// Whole-request limit (`None`: only the read timeout applies).
    pub request_timeout: Option<Duration>,
    /// Idle connections kept per host (images.md §3.3: bounded pool).
    pub max_idle_per_host: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            arch: "arm64".into(),
            check_certificate: true,
            extra_roots: Vec::new(),
            builtin_roots: false,
            username: None,
            password: None,
            allow_plain_http: true,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: None,
            max_idle_per_host: 4,
        }
    }
}

/// `check_certificate` → only `extra_roots` (plus the webpki roots with `builtin_roots`) are
/// trusted; otherwise any certificate is accepted (handshake signatures are still checked).
pub fn tls_config(opts: &ClientOptions) -> Result<rustls::ClientConfig, OciError> {
    let roots: Vec<&[u8]> = opts.extra_roots.iter().map(Vec::as_slice).collect();
    if opts.check_certificate && opts.builtin_roots {
        return crate::tls::public_roots_config(&roots).map_err(OciError::Certificate);
    }
    crate::tls::client_config(!opts.check_certificate, &roots).map_err(OciError::Certificate)
}
