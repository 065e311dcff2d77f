//! Registry certificates (spec images.md §6.3, §7.3.2): what `certs::generate` produces parses
//! back with the required names, key type and usages, verifies in a real rustls handshake
//! against the generated CA, and is written with the right modes.

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use mkube::registry::certs::{self, CertRequest, GeneratedCerts};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
};
use x509_parser::prelude::*;

const REGISTRY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 200, 3));

fn request() -> CertRequest {
    CertRequest {
        ips: vec![REGISTRY_IP],
        dns_names: vec!["registry.example.test".into()],
        days: 3650,
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    pem.contents
}

#[test]
fn server_certificate_has_the_required_names_key_and_usages() {
    let generated = certs::generate(&request()).unwrap();
    let der = der_of(&generated.server_cert_pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();

    assert_eq!(
        cert.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "registry.gt.lo"
    );
    let san = cert.subject_alternative_name().unwrap().expect("SAN");
    let mut ips = Vec::new();
    let mut dns = Vec::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::IPAddress(b) => ips.push(b.to_vec()),
            GeneralName::DNSName(d) => dns.push(d.to_string()),
            other => panic!("unexpected SAN {other:?}"),
        }
    }
    assert!(ips.contains(&vec![192, 168, 200, 3]), "{ips:?}");
    assert!(ips.contains(&vec![127, 0, 0, 1]), "{ips:?}");
    for want in ["registry.gt.lo", "localhost", "registry.example.test"] {
        assert!(dns.iter().any(|d| d == want), "{want} missing from {dns:?}");
    }
    assert_eq!(ips.len(), 2, "no duplicate SANs: {ips:?}");
    assert_eq!(dns.len(), 3, "no duplicate SANs: {dns:?}");

    let ku = cert.key_usage().unwrap().expect("key usage").value;
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign());
    let eku = cert.extended_key_usage().unwrap().expect("EKU").value;
    assert!(eku.server_auth);
    if let Some(bc) = cert.basic_constraints().unwrap() {
        assert!(!bc.value.ca);
    }

    let spki = cert.public_key();
    assert_eq!(spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY);
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .as_oid()
        .unwrap();
    assert_eq!(curve, OID_EC_P256);
    assert_eq!(
        cert.signature_algorithm.algorithm,
        OID_SIG_ECDSA_WITH_SHA256
    );
    assert!(cert.raw_serial().len() >= 16, "128-bit serial");

    // Issued by the CA, valid from about an hour ago for 3650 days.
    let ca_der = der_of(&generated.ca_cert_pem);
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    assert_eq!(cert.issuer(), ca.subject());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    assert!(
        (now - 3600 - 120..=now - 3600 + 120).contains(&nb),
        "{nb} vs {now}"
    );
    let want_na = now + 3650 * 86400;
    assert!((want_na - 120..=want_na + 120).contains(&na));

    // Server key as SEC1.
    assert!(
        generated
            .server_key_pem
            .starts_with("-----BEGIN EC PRIVATE KEY-----\n"),
        "{}",
        generated.server_key_pem
    );
    let key = PrivateKeyDer::from_pem_slice(generated.server_key_pem.as_bytes()).unwrap();
    assert!(matches!(key, PrivateKeyDer::Sec1(_)));
}

#[test]
fn ca_certificate_is_a_p256_ca_with_cert_and_crl_sign() {
    let generated = certs::generate(&request()).unwrap();
    let der = der_of(&generated.ca_cert_pem);
    let (_, ca) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(
        ca.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "mkube-registry-ca"
    );
    assert_eq!(
        ca.subject()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "mkube"
    );
    assert_eq!(ca.subject(), ca.issuer(), "self-signed");
    assert!(ca.basic_constraints().unwrap().expect("BC").value.ca);
    let ku = ca.key_usage().unwrap().expect("key usage").value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    let curve = ca
        .public_key()
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .as_oid()
        .unwrap();
    assert_eq!(curve, OID_EC_P256);
    assert_eq!(ca.signature_algorithm.algorithm, OID_SIG_ECDSA_WITH_SHA256);
    assert!(ca.raw_serial().len() >= 16);

    // Fresh material every call.
    let again = certs::generate(&request()).unwrap();
    assert_ne!(again.ca_cert_pem, generated.ca_cert_pem);
    assert_ne!(again.server_key_pem, generated.server_key_pem);
}

#[test]
fn zero_days_and_bad_names_are_rejected() {
    let mut req = request();
    req.days = 0;
    assert!(certs::generate(&req).is_err());
    let mut req = request();
    req.dns_names = vec!["bad\u{e9}name".into()];
    assert!(certs::generate(&req).is_err());
}

/// A one-connection rustls server on 127.0.0.1 that answers "ok" after the handshake.
async fn tls_server(generated: &GeneratedCerts) -> std::net::SocketAddr {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(generated.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(generated.server_key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"ok").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

async fn handshake(
    addr: std::net::SocketAddr,
    name: &str,
    ca_pems: &[&[u8]],
) -> Result<Vec<u8>, std::io::Error> {
    let config = mkube::tls::client_config(false, ca_pems).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string()).unwrap();
    let mut tls = connector.connect(name, stream).await?;
    let mut got = Vec::new();
    tls.read_to_end(&mut got).await?;
    Ok(got)
}

#[tokio::test]
async fn rustls_client_trusting_the_ca_verifies_every_san() {
    let generated = certs::generate(&request()).unwrap();
    let addr = tls_server(&generated).await;
    let ca = generated.ca_cert_pem.as_bytes();
    for name in [
        "registry.gt.lo",
        "localhost",
        "registry.example.test",
        "127.0.0.1",
        "192.168.200.3",
    ] {
        let got = handshake(addr, name, &[ca]).await;
        assert_eq!(got.unwrap_or_else(|e| panic!("{name}: {e}")), b"ok");
    }
    // A name the certificate does not cover, no trust at all, and another CA all fail.
    assert!(handshake(addr, "other.example", &[ca]).await.is_err());
    assert!(handshake(addr, "10.0.0.1", &[ca]).await.is_err());
    assert!(handshake(addr, "localhost", &[]).await.is_err());
    let other = certs::generate(&request()).unwrap();
    assert!(
        handshake(addr, "localhost", &[other.ca_cert_pem.as_bytes()])
            .await
            .is_err()
    );
}

#[test]
fn files_are_written_atomically_with_private_keys_0600_and_no_ca_key() {
    let generated = certs::generate(&request()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("registry");
    certs::write_files(&generated, &out).unwrap();

    let mode = |name: &str| {
        std::fs::metadata(out.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("tls.key"), 0o600);
    assert_eq!(mode("tls.crt") & 0o600, 0o600);
    assert_eq!(mode("ca.crt") & 0o600, 0o600);
    assert_eq!(
        std::fs::read_to_string(out.join("tls.crt")).unwrap(),
        generated.server_cert_pem
    );
    assert_eq!(
        std::fs::read_to_string(out.join("tls.key")).unwrap(),
        generated.server_key_pem
    );
    assert_eq!(
        std::fs::read_to_string(out.join("ca.crt")).unwrap(),
        generated.ca_cert_pem
    );
    // §6.3: the CA private key is never written; no temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.crt", "tls.crt", "tls.key"]);

    // Overwriting keeps the modes and replaces the contents.
    let newer = certs::generate(&request()).unwrap();
    certs::write_files(&newer, &out).unwrap();
    assert_eq!(mode("tls.key"), 0o600);
    assert_eq!(
        std::fs::read_to_string(out.join("tls.key")).unwrap(),
        newer.server_key_pem
    );
}
