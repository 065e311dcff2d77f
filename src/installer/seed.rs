//! Seeding (images.md §6.2 step 6): every seed image is copied from the upstream into the
//! device's registry as `<registry>/<short name>:<tag>` unless that tag already exists there
//! (`HEAD`); with `--refresh-seeds` an existing tag is compared with the upstream's digest and
//! copied only when it differs. Two transports: the upstream with the public roots (and plain
//! HTTP for a registry that speaks only that), the device registry trusting only the site CA.

use super::options::{InstallOptions, short_name, tag_of};
use crate::oci::{self, ClientOptions, OciError, Reference, Registry};

/// What happened to one seed; either way `digest` is the tag's digest in the device's
/// registry now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeded {
    /// The tag was there (and, with refresh, had the upstream's digest).
    Present { digest: String },
    Copied {
        digest: String,
        blobs_uploaded: usize,
    },
}

/// Seeds one image; the error names the side that failed.
pub async fn seed_one(
    o: &InstallOptions,
    site_http: &reqwest::Client,
    upstream_ref: &str,
) -> Result<Seeded, String> {
    let name = short_name(upstream_ref);
    let tag = tag_of(upstream_ref);
    let local = Reference {
        host: o.registry_host(),
        scheme: Some("https".into()),
        repo: name.clone(),
        reference: tag.clone(),
    };
    let site_opts = ClientOptions {
        arch: o.arch.clone(),
        ..ClientOptions::default()
    };
    let mut dst = Registry::with_client(site_http.clone(), &local, &site_opts);
    let present = match oci::manifest_digest(&mut dst, &tag).await {
        Ok(d) => Some(d),
        Err(OciError::NotFound(_)) => None,
        Err(e) => return Err(format!("device registry {}: {e}", o.registry_host())),
    };
    if let Some(digest) = &present
        && !o.refresh_seeds
    {
        return Ok(Seeded::Present {
            digest: digest.clone(),
        });
    }
    let upstream =
        oci::reference::parse(upstream_ref, "").map_err(|e| format!("{upstream_ref}: {e}"))?;
    let up_opts = ClientOptions {
        arch: o.arch.clone(),
        builtin_roots: true,
        allow_plain_http: true,
        ..ClientOptions::default()
    };
    let mut src = Registry::connect(&upstream, &up_opts)
        .await
        .map_err(|e| format!("upstream {}: {e}", upstream.host))?;
    if let Some(have) = &present {
        let want = oci::platform_manifest(&mut src, &upstream.reference, &o.arch)
            .await
            .map_err(|e| format!("upstream {upstream_ref}: {e}"))?;
        if &want.digest == have {
            return Ok(Seeded::Present {
                digest: want.digest,
            });
        }
    }
    let copied = oci::copy_image(&mut src, &upstream.reference, &mut dst, &tag, &o.arch)
        .await
        .map_err(|e| {
            format!(
                "copying {upstream_ref} to {}/{name}:{tag}: {e}",
                o.registry_host()
            )
        })?;
    Ok(Seeded::Copied {
        digest: copied.digest,
        blobs_uploaded: copied.blobs_uploaded,
    })
}

impl Seeded {
    /// The tag's digest in the device's registry.
    pub fn digest(&self) -> &str {
        match self {
            Seeded::Present { digest } | Seeded::Copied { digest, .. } => digest,
        }
    }
}
