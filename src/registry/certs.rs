//! Certificates for the registry (spec images.md §6.3): a CA and a server certificate it
//! signs, both ECDSA P-256 with ECDSA-SHA256 signatures and random 128-bit serials.
//!
//! - CA: `CN=mkube-registry-ca, O=mkube`, CA:true, key usage keyCertSign + cRLSign.
//! - Server: `CN=registry.gt.lo`, key usage digitalSignature, EKU serverAuth; SANs are the
//!   requested IPs and DNS names plus the ones the spec always requires (`127.0.0.1`,
//!   `registry.gt.lo`, `localhost`).
//! - Validity: from one hour ago (clock skew) to `days` from now.
//!
//! PEM output: certificates as `CERTIFICATE`, the server key as `EC PRIVATE KEY` (SEC1).
//! The CA key is returned (PKCS#8 PEM) for callers that keep it in memory, but
//! [`write_files`] never writes it: §6.3 says the CA private key is written nowhere.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};

/// DNS names every server certificate carries.
pub const DEFAULT_DNS_NAMES: [&str; 2] = ["registry.gt.lo", "localhost"];
/// Server certificate subject CN.
pub const SERVER_CN: &str = "registry.gt.lo";
/// CA subject CN and O.
pub const CA_CN: &str = "mkube-registry-ca";
pub const CA_ORG: &str = "mkube";

/// What the server certificate must cover. `127.0.0.1`, `registry.gt.lo` and `localhost` are
/// always added; duplicates are removed. `days` is the validity (the installer uses 3650).
#[derive(Clone, Debug)]
pub struct CertRequest {
    pub ips: Vec<IpAddr>,
    pub dns_names: Vec<String>,
    pub days: u32,
}

/// PEM-encoded CA and server material.
#[derive(Clone)]
pub struct GeneratedCerts {
    pub ca_cert_pem: String,
    /// PKCS#8 (`PRIVATE KEY`). Never written by [`write_files`].
    pub ca_key_pem: String,
    pub server_cert_pem: String,
    /// SEC1 (`EC PRIVATE KEY`).
    pub server_key_pem: String,
}

impl std::fmt::Debug for GeneratedCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCerts")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("server_cert_pem", &self.server_cert_pem)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate validity must be at least one day")]
    ZeroDays,
    #[error("invalid DNS name {0:?}")]
    DnsName(String),
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("key encoding: {0}")]
    KeyEncoding(&'static str),
}

/// Generates a fresh CA and a server certificate signed by it.
pub fn generate(req: &CertRequest) -> Result<GeneratedCerts, CertError> {
    if req.days == 0 {
        return Err(CertError::ZeroDays);
    }
    let now = time::OffsetDateTime::now_utc();
    let not_before = now - time::Duration::hours(1);
    let not_after = now + time::Duration::days(i64::from(req.days));

    // CA.
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::default();
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(DnType::CommonName, CA_CN);
    ca_dn.push(DnType::OrganizationName, CA_ORG);
    ca.distinguished_name = ca_dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.serial_number = Some(random_serial());
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;

    // Server.
    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut server = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, SERVER_CN);
    server.distinguished_name = dn;
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.serial_number = Some(random_serial());
    server.not_before = not_before;
    server.not_after = not_after;
    server.subject_alt_names = subject_alt_names(req)?;
    let issuer = Issuer::new(ca, &ca_key);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    Ok(GeneratedCerts {
        ca_cert_pem: ca_cert.pem(),
        ca_key_pem: ca_key.serialize_pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: sec1_pem(&server_key)?,
    })
}

fn subject_alt_names(req: &CertRequest) -> Result<Vec<SanType>, CertError> {
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in req
        .ips
        .iter()
        .copied()
        .chain([IpAddr::V4(Ipv4Addr::LOCALHOST)])
    {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    let mut names: Vec<String> = Vec::new();
    for name in req
        .dns_names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .chain(DEFAULT_DNS_NAMES.iter().map(|n| n.to_string()))
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let mut sans: Vec<SanType> = ips.into_iter().map(SanType::IpAddress).collect();
    for name in names {
        let ia5 = name
            .as_str()
            .try_into()
            .map_err(|_| CertError::DnsName(name.clone()))?;
        if name.is_empty() {
            return Err(CertError::DnsName(name));
        }
        sans.push(SanType::DnsName(ia5));
    }
    Ok(sans)
}

/// 128 random bits; rcgen encodes it as a positive DER INTEGER.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    if bytes[0] == 0 {
        bytes[0] = 1; // keep the full 128-bit length
    }
    SerialNumber::from_slice(&bytes)
}

/// The P-256 key as SEC1 DER (`ECPrivateKey` with the curve parameters and public key), PEM
/// encoded as `EC PRIVATE KEY`. The private scalar is taken from rcgen's PKCS#8 encoding.
fn sec1_pem(key: &KeyPair) -> Result<String, CertError> {
    let pkcs8 = key.serialized_der();
    let scalar = p256_scalar_from_pkcs8(pkcs8)?;
    let public = key.public_key_raw();
    if public.len() != 65 || public[0] != 0x04 {
        return Err(CertError::KeyEncoding(
            "unexpected P-256 public key encoding",
        ));
    }
    // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING (32),
    //   [0] parameters (prime256v1), [1] publicKey BIT STRING (65 bytes, uncompressed) }
    let mut der = Vec::with_capacity(121);
    der.extend_from_slice(&[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20]);
    der.extend_from_slice(scalar);
    der.extend_from_slice(&[
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    der.extend_from_slice(public);
    Ok(pem_encode("EC PRIVATE KEY", &der))
}

/// PrivateKeyInfo { version, algorithm, privateKey OCTET STRING { ECPrivateKey { version,
/// privateKey OCTET STRING, .. } } } → the 32-byte private scalar.
fn p256_scalar_from_pkcs8(der: &[u8]) -> Result<&[u8], CertError> {
    const BAD: CertError = CertError::KeyEncoding("unexpected PKCS#8 structure");
    let (tag, info, _) = der_tlv(der).ok_or(BAD)?;
    if tag != 0x30 {
        return Err(BAD);
    }
    let (tag, _, rest) = der_tlv(info).ok_or(BAD)?; // version
    if tag != 0x02 {
        return Err(BAD);
    }
    let (tag, _, rest) = der_tlv(rest).ok_or(BAD)?; // algorithm
    if tag != 0x30 {
        return Err(BAD);
    }
    let (tag, ec_key, _) = der_tlv(rest).ok_or(BAD)?;
    if tag != 0x04 {
        return Err(BAD);
    }
    let (tag, ec_key, _) = der_tlv(ec_key).ok_or(BAD)?;
    if tag != 0x30 {
        return Err(BAD);
    }
    let (tag, _, rest) = der_tlv(ec_key).ok_or(BAD)?; // version 1
    if tag != 0x02 {
        return Err(BAD);
    }
    let (tag, scalar, _) = der_tlv(rest).ok_or(BAD)?;
    if tag != 0x04 || scalar.len() != 32 {
        return Err(BAD);
    }
    Ok(scalar)
}

/// One DER TLV: (tag, contents, rest). Single-byte tags, definite lengths up to 2 bytes.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81 => {
            let (&n, rest) = rest.split_first()?;
            (usize::from(n), rest)
        }
        0x82 => {
            let (n, rest) = rest.split_at_checked(2)?;
            (usize::from(n[0]) << 8 | usize::from(n[1]), rest)
        }
        _ => return None,
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes `ca.crt` (0644), `tls.crt` (0644) and `tls.key` (0600) into `dir` (created if
/// missing), each atomically: a temporary file in the same directory, fsynced, then renamed.
/// The CA key is deliberately not written (§6.3).
pub fn write_files(certs: &GeneratedCerts, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(&dir.join("ca.crt"), certs.ca_cert_pem.as_bytes(), 0o644)?;
    write_atomic(
        &dir.join("tls.crt"),
        certs.server_cert_pem.as_bytes(),
        0o644,
    )?;
    write_atomic(&dir.join("tls.key"), certs.server_key_pem.as_bytes(), 0o600)?;
    Ok(())
}

fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let _ = std::fs::remove_file(&tmp);
        // The mode applies from creation: the key is never readable by others, even briefly.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
