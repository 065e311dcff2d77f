//! The images actor's state: resolved digests and tarballs per normalised reference.

use crate::events::catalogue::ImagesEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagesState {
    pub entries: BTreeMap<String, ImageEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageEntry {
    pub digest: String,
    pub tarball: Option<Tarball>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tarball {
    pub path: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_at: Option<String>,
}

impl ImagesState {
    pub fn apply(&mut self, event: &ImagesEvent) {
        match event {
            ImagesEvent::ImageResolved { reference, digest } => {
                self.entries.entry(reference.clone()).or_default().digest = digest.clone();
            }
            ImagesEvent::TarballBuilt {
                reference,
                digest,
                path,
                size,
                pulled_at,
            } => {
                let entry = self.entries.entry(reference.clone()).or_default();
                entry.digest = digest.clone();
                entry.tarball = Some(Tarball {
                    path: path.clone(),
                    digest: digest.clone(),
                    size: *size,
                    pulled_at: pulled_at.clone(),
                });
            }
            ImagesEvent::ImageCleared { reference } => {
                self.entries.remove(reference);
            }
            // A fact for the pods actor; the cache entries it invalidates are cleared by their
            // own `ImageCleared` events.
            ImagesEvent::PushNotified { .. } => {}
        }
    }
}
