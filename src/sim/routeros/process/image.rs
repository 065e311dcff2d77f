//! What a process container takes from its image: the run config of the image's config JSON
//! (`Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`), kept beside the root-dir.
//!
//! The config is written next to root-dir (`<parent>/.<root-dir name>.image.json`, a dot-file, so
//! `/file` does not list it) when an import ends, and read when the container starts. A root-dir
//! whose extraction was skipped (§3.4: existing content is reused) keeps the config of the image
//! that filled it, so the stale image runs whole, as on a device.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The run config of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageConfig {
    #[serde(rename = "Entrypoint", deserialize_with = "null_as_empty")]
    pub entrypoint: Vec<String>,
    #[serde(rename = "Cmd", deserialize_with = "null_as_empty")]
    pub cmd: Vec<String>,
    #[serde(rename = "Env", deserialize_with = "null_as_empty")]
    pub env: Vec<String>,
    #[serde(rename = "WorkingDir")]
    pub workdir: String,
    #[serde(rename = "User")]
    pub user: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Outer {
    #[serde(default)]
    config: Option<ImageConfig>,
}

impl ImageConfig {
    /// The run config inside an OCI / Docker image config JSON.
    pub fn from_image_json(bytes: &[u8]) -> Result<ImageConfig, String> {
        let outer: Outer =
            serde_json::from_slice(bytes).map_err(|e| format!("bad image config: {e}"))?;
        Ok(outer.config.unwrap_or_default())
    }

    /// Writes the sidecar of `root` (the root-dir's host path).
    pub fn save(&self, root: &Path) -> std::io::Result<()> {
        let path = sidecar(root)?;
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(path, bytes)
    }

    /// The sidecar of `root`, or an empty config when there is none.
    pub fn load(root: &Path) -> Result<ImageConfig, String> {
        let path = sidecar(root).map_err(|e| e.to_string())?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("bad image config {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ImageConfig::default()),
            Err(e) => Err(format!("image config {}: {e}", path.display())),
        }
    }
}

fn sidecar(root: &Path) -> std::io::Result<PathBuf> {
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return Err(std::io::Error::other(format!(
            "root-dir {} has no parent",
            root.display()
        )));
    };
    Ok(parent.join(format!(".{}.image.json", name.to_string_lossy())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_run_config_and_round_trips_the_sidecar() {
        let json = br#"{"architecture":"amd64","config":{"Entrypoint":["/mkube-registry"],
            "Cmd":null,"Env":["PATH=/"],"WorkingDir":"/data"}}"#;
        let c = ImageConfig::from_image_json(json).unwrap();
        assert_eq!(c.entrypoint, vec!["/mkube-registry"]);
        assert!(c.cmd.is_empty());
        assert_eq!(c.workdir, "/data");
        assert_eq!(
            ImageConfig::from_image_json(b"{}").unwrap(),
            ImageConfig::default()
        );
        assert!(ImageConfig::from_image_json(b"[").is_err());
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        assert_eq!(ImageConfig::load(&root).unwrap(), ImageConfig::default());
        c.save(&root).unwrap();
        assert_eq!(ImageConfig::load(&root).unwrap(), c);
        assert!(dir.path().join(".app.image.json").exists());
    }
}
