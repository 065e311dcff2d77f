//! The registry's certificates (images.md §6.3, §6.4): the pair on the device is reused when it
//! is whole and valid — the key matches the certificate, the certificate chains to the CA the
//! clients hold, and it covers the registry's address — and generated otherwise, or always with
//! `--rotate-certs`. The CA's private key is never kept: a later rotation makes a new CA.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::layout::files;
use super::observe::Observed;
use crate::registry::certs::{CertRequest, generate};

/// The PEM material the configuration step distributes.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteCerts {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for SiteCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteCerts").finish_non_exhaustive()
    }
}

/// Where the certificates came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Found on the device and valid.
    Reused,
    /// Generated: why (asked to rotate, missing, or what was wrong with the old ones).
    Generated { why: String },
}

/// Reuses the device's certificates when valid, else generates new ones.
pub fn reuse_or_generate(
    observed: &Observed,
    registry_ip: Ipv4Addr,
    rotate: bool,
) -> Result<(SiteCerts, Origin), String> {
    let why = if rotate {
        "--rotate-certs".to_string()
    } else {
        match on_device(observed) {
            Err(missing) => missing,
            Ok(found) => match check(&found, registry_ip) {
                Ok(()) => return Ok((found, Origin::Reused)),
                Err(wrong) => wrong,
            },
        }
    };
    let generated = generate(&CertRequest {
        ips: vec![IpAddr::V4(registry_ip)],
        dns_names: Vec::new(),
        days: 3650,
    })
    .map_err(|e| format!("certificate generation: {e}"))?;
    let certs = SiteCerts {
        ca_pem: generated.ca_cert_pem,
        cert_pem: generated.server_cert_pem,
        key_pem: generated.server_key_pem,
    };
    Ok((certs, Origin::Generated { why }))
}

/// The three files, when the device shows them all (and both CA copies agree).
fn on_device(observed: &Observed) -> Result<SiteCerts, String> {
    let read = |path: String| {
        observed
            .contents(&path)
            .map(str::to_string)
            .ok_or_else(|| format!("{path} missing"))
    };
    let certs = SiteCerts {
        ca_pem: read(files::mkube_ca())?,
        cert_pem: read(files::registry_cert())?,
        key_pem: read(files::registry_key())?,
    };
    if observed.contents(&files::updater_ca()) != Some(certs.ca_pem.as_str()) {
        return Err(format!(
            "{} differs from {}",
            files::updater_ca(),
            files::mkube_ca()
        ));
    }
    Ok(certs)
}

/// Key matches certificate, chain verifies to the CA, SANs cover the registry IP, in date.
pub fn check(certs: &SiteCerts, registry_ip: Ipv4Addr) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(certs.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.crt is not PEM: {e:?}"))?;
    let leaf = chain.first().ok_or("tls.crt holds no certificate")?;
    let key = PrivateKeyDer::from_pem_slice(certs.key_pem.as_bytes())
        .map_err(|e| format!("tls.key is not a PEM key: {e:?}"))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("tls.key unusable: {e}"))?;
    let certified = rustls::sign::CertifiedKey::new(chain.clone(), signing);
    certified
        .keys_match()
        .map_err(|e| format!("tls.key does not match tls.crt: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(certs.ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| format!("registry-ca.crt is not PEM: {e:?}"))?;
        roots
            .add(ca)
            .map_err(|e| format!("registry-ca.crt unusable: {e}"))?;
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("registry-ca.crt unusable: {e}"))?;
    let name = ServerName::IpAddress(IpAddr::V4(registry_ip).into());
    verifier
        .verify_server_cert(leaf, &chain[1..], &name, &[], UnixTime::now())
        .map_err(|e| {
            format!("tls.crt does not verify for {registry_ip} against registry-ca.crt: {e}")
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(ip: Ipv4Addr) -> SiteCerts {
        let g = generate(&CertRequest {
            ips: vec![IpAddr::V4(ip)],
            dns_names: vec![],
            days: 10,
        })
        .unwrap();
        SiteCerts {
            ca_pem: g.ca_cert_pem,
            cert_pem: g.server_cert_pem,
            key_pem: g.server_key_pem,
        }
    }

    #[test]
    fn valid_pair_passes_and_each_fault_is_named() {
        let ip = Ipv4Addr::new(127, 77, 0, 3);
        let good = fresh(ip);
        check(&good, ip).unwrap();
        let other = fresh(ip);
        let e = check(
            &SiteCerts {
                key_pem: other.key_pem.clone(),
                ..good.clone()
            },
            ip,
        )
        .unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let e = check(
            &SiteCerts {
                ca_pem: other.ca_pem.clone(),
                ..good.clone()
            },
            ip,
        )
        .unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let e = check(&good, Ipv4Addr::new(127, 77, 0, 4)).unwrap_err();
        assert!(e.contains("127.77.0.4"), "{e}");
        let e = check(
            &SiteCerts {
                cert_pem: "junk".into(),
                ..good
            },
            ip,
        )
        .unwrap_err();
        assert!(e.contains("no certificate") || e.contains("PEM"), "{e}");
    }
}
