//! Image manifests and indexes (Docker v2 and OCI), and picking `linux/<arch>`.

use serde::Deserialize;

use super::error::OciError;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// One of the four manifest media types above.
pub fn is_manifest_type(t: &str) -> bool {
    matches!(t, OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST)
}

/// `Accept` header value for manifest requests.
pub fn accept_header() -> String {
    [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ")
}

#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// A single-platform image manifest.
#[derive(Debug, Clone)]
pub struct ImageManifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// What a manifest request returned.
#[derive(Debug, Clone)]
pub enum Fetched {
    Index(Vec<Descriptor>),
    Image(ImageManifest),
}

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// Parse a manifest body; the `mediaType` field wins over `Content-Type`.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Fetched, OciError> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| OciError::Malformed(format!("bad manifest: {e}")))?;
    if raw.schema_version != 2 {
        return Err(OciError::Unsupported(format!(
            "manifest schema version {}",
            raw.schema_version
        )));
    }
    let kind = raw
        .media_type
        .clone()
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let is_index = match kind.as_str() {
        OCI_INDEX | DOCKER_LIST => true,
        OCI_MANIFEST | DOCKER_MANIFEST => false,
        _ => raw.manifests.is_some(),
    };
    if is_index {
        let list = raw
            .manifests
            .ok_or_else(|| OciError::Malformed("index without manifests".into()))?;
        return Ok(Fetched::Index(list));
    }
    let config = raw
        .config
        .ok_or_else(|| OciError::Malformed("manifest without config".into()))?;
    let layers = raw
        .layers
        .ok_or_else(|| OciError::Malformed("manifest without layers".into()))?;
    for layer in &layers {
        check_layer(layer)?;
    }
    Ok(Fetched::Image(ImageManifest { config, layers }))
}

fn check_layer(layer: &Descriptor) -> Result<(), OciError> {
    if layer.media_type.contains("zstd") {
        return Err(OciError::Unsupported("zstd compressed layers".into()));
    }
    if !layer.urls.is_empty() || layer.media_type.contains("foreign") {
        return Err(OciError::Unsupported("foreign layers".into()));
    }
    if !super::reference::is_sha256(&layer.digest) {
        return Err(OciError::Malformed(format!(
            "bad layer digest {}",
            layer.digest
        )));
    }
    Ok(())
}

/// Normalise architecture spellings (`aarch64` → `arm64`, `x86_64` → `amd64`).
pub fn normalise_arch(arch: &str) -> &str {
    match arch {
        "aarch64" | "arm64v8" => "arm64",
        "x86_64" | "x86-64" => "amd64",
        "armhf" | "armv7" => "arm",
        other => other,
    }
}

/// The index entry for `linux/<arch>`; for arm64 only variant `v8` or none.
pub fn pick_platform<'a>(list: &'a [Descriptor], arch: &str) -> Option<&'a Descriptor> {
    let arch = normalise_arch(arch);
    let variant_ok = |v: Option<&str>| match (arch, v) {
        (_, None) | (_, Some("")) => true,
        ("arm64", Some(v)) => v == "v8",
        ("arm", Some(v)) => v == "v7",
        _ => true,
    };
    list.iter().find(|d| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == "linux" && p.architecture == arch && variant_ok(p.variant.as_deref())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arch: &str, variant: Option<&str>, digest_char: char) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: format!("sha256:{}", digest_char.to_string().repeat(64)),
            size: 1,
            platform: Some(Platform {
                os: "linux".into(),
                architecture: arch.into(),
                variant: variant.map(str::to_string),
            }),
            urls: vec![],
        }
    }

    #[test]
    fn picks_arm64_v8_or_plain() {
        let list = vec![
            entry("amd64", None, 'a'),
            entry("arm64", Some("v9"), 'b'),
            entry("arm64", Some("v8"), 'c'),
        ];
        assert_eq!(
            pick_platform(&list, "arm64").unwrap().digest,
            list[2].digest
        );
        assert_eq!(
            pick_platform(&list, "x86_64").unwrap().digest,
            list[0].digest
        );
        assert!(pick_platform(&list, "riscv64").is_none());
    }

    #[test]
    fn rejects_zstd_layers() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"digest":"sha256:{a}","size":1}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"sha256:{a}","size":1}}]}}"#,
            a = "a".repeat(64)
        );
        assert!(matches!(
            parse(body.as_bytes(), None),
            Err(OciError::Unsupported(_))
        ));
    }
}
