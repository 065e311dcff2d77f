//! The boot manifest as the checker sees it (§1.3, CC-1, CC-3, L-1 (a)): not configured,
//! loaded, or failed. A configured manifest that cannot be read — missing included — leaves
//! the desired set unknown, so no sweep runs (a failed read is not an empty read).

use crate::config::{Config, load_manifest};
use k8s_openapi::api::core::v1::Pod;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum ManifestView {
    /// `lifecycle.bootManifestPath` is empty.
    NotConfigured,
    Loaded(Vec<Pod>),
    /// The load error, as text.
    Failed(String),
}

impl ManifestView {
    pub fn read(config: &Config) -> ManifestView {
        let path = config.lifecycle.boot_manifest_path.trim();
        if path.is_empty() {
            return ManifestView::NotConfigured;
        }
        match load_manifest(Path::new(path)) {
            Ok(m) => ManifestView::Loaded(m.pods),
            Err(e) => ManifestView::Failed(e.to_string()),
        }
    }

    /// The manifest's pods (none unless it loaded).
    pub fn pods(&self) -> &[Pod] {
        match self {
            ManifestView::Loaded(pods) => pods,
            _ => &[],
        }
    }
}
