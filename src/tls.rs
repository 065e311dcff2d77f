//! TLS everywhere uses rustls with the ring provider (no aws-lc, no OpenSSL): one place builds
//! client configurations for every HTTPS client mkube has (RouterOS REST, registry pulls).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// Installs ring as the process default, for code that builds default reqwest clients.
/// Clients built from [`client_config`] do not need it.
pub fn ensure_ring_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client configuration on the ring provider. `accept_any`: any server certificate is
/// accepted (devices and registries with self-signed certificates; handshake signatures are
/// still verified). Otherwise the server must chain to one of the PEM certificates in
/// `ca_pems`. Errors name what was wrong.
pub fn client_config(accept_any: bool, ca_pems: &[&[u8]]) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    if accept_any {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore::empty();
    add_pems(&mut roots, ca_pems)?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn add_pems(roots: &mut RootCertStore, ca_pems: &[&[u8]]) -> Result<(), String> {
    for pem in ca_pems {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA certificate: {e}"))?;
        }
    }
    Ok(())
}

/// A client configuration trusting the built-in webpki (Mozilla) roots plus `ca_pems`: for
/// public registries from scratch images, which have no system CA bundle (images.md §2.7).
pub fn public_roots_config(ca_pems: &[&[u8]]) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    add_pems(&mut roots, ca_pems)?;
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Accepts any server certificate, but verifies handshake signatures.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_both_modes_and_rejects_bad_pem() {
        assert!(super::client_config(true, &[]).is_ok());
        assert!(super::client_config(false, &[]).is_ok());
        let bad = b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
        assert!(super::client_config(false, &[bad]).is_err());
        assert!(super::public_roots_config(&[]).is_ok());
        assert!(super::public_roots_config(&[bad]).is_err());
    }
}
