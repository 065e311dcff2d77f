//! Halted rollouts are remembered per image and digest (images.md §4.4): once a rollout of
//! an image to a digest halts (a rebuilt pod did not become live), later passes leave that
//! image alone while the registry still has the same digest, instead of rebuilding the next
//! pod every pass. A new push (another digest) or an explicit redeploy (API-4, which does not
//! go through the pass) tries again. Memory only: after a restart the first pass retries once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Halts(Arc<Mutex<HashMap<String, String>>>);

impl Halts {
    /// True when the rollout of `image` to `digest` halted before.
    pub fn halted(&self, image: &str, digest: &str) -> bool {
        self.0
            .lock()
            .map(|m| m.get(image).is_some_and(|d| d == digest))
            .unwrap_or(false)
    }

    /// Remembers how the rollout of `image` to `digest` ended.
    pub fn ended(&self, image: &str, digest: &str, halted: bool) {
        if let Ok(mut m) = self.0.lock() {
            if halted {
                m.insert(image.to_string(), digest.to_string());
            } else {
                m.remove(image);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halt_holds_for_its_digest_only() {
        let h = Halts::default();
        assert!(!h.halted("app", "sha256:a"));
        h.ended("app", "sha256:a", true);
        assert!(h.halted("app", "sha256:a"));
        assert!(!h.halted("app", "sha256:b"), "a new push is tried");
        assert!(!h.halted("other", "sha256:a"));
        h.ended("app", "sha256:b", false);
        assert!(
            !h.halted("app", "sha256:a"),
            "a completed rollout clears the halt"
        );
    }
}
