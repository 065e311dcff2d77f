//! Image garbage collection (images.md §3.12, controller.md IMG-5 with the fix).
//!
//! The original counted uses up and never down, and picked candidates in map order, so it
//! never removed anything. Here `inUse` is derived from the desired pods at collection time,
//! and among the unused tarballs the newest `keep_last_n` stay; older ones are cleared through
//! the normal [`ClearImage`] path (tarball and sidecar deleted, `ImageCleared` recorded).
//! Volumes are never collected (L-9).

use super::names::Normaliser;
use super::state::ImagesState;
use super::{ClearImage, ImageError, ImagesActor};
use actix::prelude::*;
use std::collections::HashSet;

/// What one collection decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Cached references with a tarball that no desired pod uses, oldest first.
    pub unused: Vec<String>,
    /// The ones removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
}

/// The references to remove: unused entries with a tarball beyond the newest `keep_last_n`,
/// oldest first. `in_use` holds normalised references.
pub fn plan(state: &ImagesState, in_use: &HashSet<String>, keep_last_n: usize) -> GcReport {
    let mut unused: Vec<(&str, &str)> = state
        .entries
        .iter()
        .filter(|(r, _)| !in_use.contains(*r))
        .filter_map(|(r, e)| {
            let t = e.tarball.as_ref()?;
            // RFC 3339 UTC strings sort by time; an unknown pull time counts as oldest.
            Some((r.as_str(), t.pulled_at.as_deref().unwrap_or("")))
        })
        .collect();
    unused.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    let excess = unused.len().saturating_sub(keep_last_n);
    GcReport {
        removed: unused[..excess]
            .iter()
            .map(|(r, _)| r.to_string())
            .collect(),
        unused: unused.into_iter().map(|(r, _)| r.to_string()).collect(),
    }
}

/// The container images of `pods`, normalised as cache keys.
pub fn images_in_use<'p>(
    pods: impl IntoIterator<Item = &'p k8s_openapi::api::core::v1::Pod>,
    normaliser: &Normaliser,
) -> HashSet<String> {
    pods.into_iter()
        .filter_map(|p| p.spec.as_ref())
        .flat_map(|spec| spec.containers.iter())
        .filter_map(|c| c.image.as_deref())
        .map(|i| normaliser.normalise(i))
        .collect()
}

/// Collect once now.
#[derive(Debug, Message)]
#[rtype(result = "Result<GcReport, ImageError>")]
pub struct CollectGarbage {
    pub in_use: HashSet<String>,
    pub keep_last_n: usize,
    pub dry_run: bool,
    pub correlation: String,
}

impl Handler<CollectGarbage> for ImagesActor {
    type Result = ResponseFuture<Result<GcReport, ImageError>>;

    fn handle(&mut self, msg: CollectGarbage, ctx: &mut Context<Self>) -> Self::Result {
        let report = plan(&self.state, &msg.in_use, msg.keep_last_n);
        let addr = ctx.address();
        Box::pin(async move {
            if msg.dry_run {
                for r in &report.removed {
                    tracing::info!(reference = %r, "image GC (dry run): would remove");
                }
                return Ok(report);
            }
            for r in &report.removed {
                let clear = ClearImage {
                    reference: r.clone(),
                    correlation: msg.correlation.clone(),
                };
                addr.send(clear)
                    .await
                    .map_err(|e| ImageError::Io(format!("images actor: {e}")))??;
                tracing::info!(reference = %r, "image GC: removed unused tarball");
            }
            Ok(report)
        })
    }
}

/// Normaliser of the running images actor (so GC and the cache agree on keys).
#[derive(Debug, Message)]
#[rtype(result = "Normaliser")]
pub struct GetNormaliser;

impl Handler<GetNormaliser> for ImagesActor {
    type Result = MessageResult<GetNormaliser>;
    fn handle(&mut self, _: GetNormaliser, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.settings.normaliser.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::images::state::{ImageEntry, Tarball};

    fn entry(pulled_at: Option<&str>) -> ImageEntry {
        ImageEntry {
            digest: "sha256:1".into(),
            tarball: Some(Tarball {
                path: "p".into(),
                digest: "sha256:1".into(),
                size: 1,
                pulled_at: pulled_at.map(String::from),
            }),
        }
    }

    #[test]
    fn oldest_unused_beyond_keep_last_n_go_first() {
        let mut s = ImagesState::default();
        s.entries
            .insert("r/a:1".into(), entry(Some("2026-01-01T00:00:00Z")));
        s.entries
            .insert("r/b:1".into(), entry(Some("2026-03-01T00:00:00Z")));
        s.entries
            .insert("r/c:1".into(), entry(Some("2026-02-01T00:00:00Z")));
        s.entries.insert("r/d:1".into(), entry(None));
        s.entries.insert(
            "r/e:1".into(),
            ImageEntry {
                digest: "sha256:2".into(),
                tarball: None,
            },
        );
        let used: HashSet<String> = ["r/b:1".to_string()].into();
        let r = plan(&s, &used, 1);
        assert_eq!(r.unused, vec!["r/d:1", "r/a:1", "r/c:1"]);
        assert_eq!(r.removed, vec!["r/d:1", "r/a:1"]);
        assert!(plan(&s, &used, 5).removed.is_empty());
        assert_eq!(plan(&s, &HashSet::new(), 0).removed.len(), 4);
    }
}
