//! The API's TLS listener configuration (rustls on ring) from PEM files.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// `None` when neither file is set; an error naming the file when one is missing or bad.
pub fn server_config(cert: &str, key: &str) -> Result<Option<ServerConfig>, String> {
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {}
        _ => return Err("api.tlsCert and api.tlsKey must be set together".into()),
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("api.tlsCert {cert}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("api.tlsCert {cert}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("api.tlsCert {cert}: no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("api.tlsKey {key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map(Some)
        .map_err(|e| format!("api TLS certificate/key: {e}"))
}
