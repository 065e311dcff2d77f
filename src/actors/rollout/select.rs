//! API-4 / images.md §4.5: which desired pods a redeploy of an image reference targets.

use crate::actors::pods::state::PodsState;
use crate::pod::annotations;

/// `image` matches `wanted` when it equals it, ends with `/<wanted>`, or has the same last
/// path component once tags and digests are dropped (`microdns:edge` matches
/// `reg:5000/x/microdns:v2`).
pub fn matches(image: &str, wanted: &str) -> bool {
    let (image, wanted) = (image.trim(), wanted.trim());
    if image.is_empty() || wanted.is_empty() {
        return false;
    }
    image == wanted || image.ends_with(&format!("/{wanted}")) || {
        let (a, b) = (bare_name(image), bare_name(wanted));
        !a.is_empty() && a == b
    }
}

/// The last path component without `@digest` or `:tag`.
fn bare_name(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last)
}

/// Desired `image-policy: auto` pods (not pinned to a `vkube.io/file`) with a container
/// whose image matches, as (pod key, matching container images).
pub fn targets(state: &PodsState, wanted: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (key, p) in &state.pods {
        if !annotations::auto_update(&p.pod) || annotations::file(&p.pod).is_some() {
            continue;
        }
        let images: Vec<String> = p
            .pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .filter_map(|c| c.image.clone())
            .filter(|i| matches(i, wanted))
            .collect();
        if !images.is_empty() {
            out.push((key.clone(), images));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn api4_matching_rules() {
        assert!(matches("microdns:edge", "microdns:edge"));
        assert!(matches("reg.lan:5000/infra/microdns:edge", "microdns:edge"));
        assert!(matches(
            "reg.lan:5000/infra/microdns:edge",
            "infra/microdns:edge"
        ));
        assert!(matches("reg.lan:5000/infra/microdns:v1", "microdns:edge"));
        assert!(matches("reg.lan:5000/microdns@sha256:ab", "microdns"));
        assert!(!matches(
            "reg.lan:5000/infra/microdnsx:edge",
            "microdns:edge"
        ));
        assert!(!matches("reg.lan:5000/microdns/app:edge", "microdns:edge"));
        assert!(!matches("", "microdns"));
        assert!(!matches("microdns", " "));
    }
}
