use serde::{Deserialize, Serialize};

/// The image cache: resolved digests and RouterOS tarballs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum ImagesEvent {
    /// The registry answered this digest for the (normalised) reference.
    ImageResolved { reference: String, digest: String },
    /// A complete tarball (and its digest sidecar) exists on disk.
    TarballBuilt {
        reference: String,
        digest: String,
        path: String,
        size: u64,
        /// When the tarball was written (RFC 3339); absent in events recorded before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pulled_at: Option<String>,
    },
    /// The reference was invalidated (push or redeploy): its digest and tarball are gone.
    ImageCleared { reference: String },
    /// The registry announced a push (images.md §4.1): every tag of `repository` when `tag` is
    /// `None` (a digest push), else that tag. The pods actor re-checks the repository's pods.
    PushNotified {
        repository: String,
        tag: Option<String>,
    },
}

impl ImagesEvent {
    /// The reference the event is about (for `PushNotified`, the repository).
    pub fn reference(&self) -> &str {
        match self {
            ImagesEvent::ImageResolved { reference, .. }
            | ImagesEvent::TarballBuilt { reference, .. }
            | ImagesEvent::ImageCleared { reference } => reference,
            ImagesEvent::PushNotified { repository, .. } => repository,
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![repository_of(self.reference()).to_string()]
    }
}

/// `host:5000/app:v1` → `host:5000/app`; `app@sha256:…` → `app`: the name part of
/// [`crate::oci::reference::split`], where a `:` counts as a tag separator only after the
/// last `/` (API-5 [D]).
pub fn repository_of(reference: &str) -> &str {
    crate::oci::reference::split(reference).name
}

#[cfg(test)]
mod tests {
    use super::repository_of;

    #[test]
    fn repository_strips_tag_and_digest_only() {
        assert_eq!(repository_of("host:5000/app:v1"), "host:5000/app");
        assert_eq!(repository_of("host:5000/app"), "host:5000/app");
        assert_eq!(repository_of("app@sha256:abc"), "app");
        assert_eq!(repository_of("nginx:latest"), "nginx");
    }
}
