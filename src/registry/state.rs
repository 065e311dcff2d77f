//! [`Registry`]: the state every request handler and the management listener share (the
//! store, upload sessions, the push hook and the upstream features). Built by
//! [`crate::registry::open`].

use std::sync::Arc;

use super::feed::PushFeed;
use super::notify::PushHook;
use super::pull_through::PullThrough;
use super::store::Store;
use super::uploads::Uploads;
use super::upstream::Upstream;
use super::watcher::Watcher;

/// Shared server state.
pub struct Registry {
    /// Shared with the watcher, which runs beside the handlers.
    pub store: Arc<Store>,
    pub uploads: Uploads,
    pub delete_enabled: bool,
    pub test_hooks: bool,
    /// Called for every committed tag push and watcher change (webhook, SSE, test hook).
    pub on_push: Option<PushHook>,
    /// The client for upstream registries (pull-through, watcher, `_pull`).
    pub upstream: Arc<Upstream>,
    /// `pullThrough: true`: missing content is fetched from upstream (§2.7).
    pub pull_through: Option<PullThrough>,
    /// `watchImages` configured (§2.7); `POST :5001/poll` triggers it.
    pub watcher: Option<Arc<Watcher>>,
    /// Push events for `GET :5001/events` (§2.8).
    pub feed: PushFeed,
}
