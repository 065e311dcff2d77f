//! The image cache (images.md §3, controller.md §3.8 IMG-1…IMG-3): digests and RouterOS
//! tarballs per normalised reference.
//!
//! The actor decides and records; the effects (digest lookups, pulls, file writes) run in jobs
//! its handlers spawn, through the [`crate::oci`] client ([`cache`]). Every cache change is an
//! event committed by the actor itself ([`Settle`], one at a time), so the state replays on boot.
//! Operations on one reference are serialised (a second `EnsureImage` joins the pull in
//! flight); different references proceed in parallel.

pub mod cache;
pub mod gc;
pub mod names;
pub mod state;
pub mod tarball;

use super::journal::{Journal, commit};
use crate::config::Config;
use crate::events::AppendError;
use crate::events::catalogue::ImagesEvent;
use crate::oci::reference;
use actix::prelude::*;
use cache::Settings;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::Serialize;
use state::ImagesState;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

type Op = Shared<BoxFuture<'static, Result<Outcome, ImageError>>>;

pub struct ImagesActor {
    journal: Journal,
    state: ImagesState,
    settings: Arc<Settings>,
    /// The operation in flight per normalised reference, with its id and whether it is an ensure.
    inflight: HashMap<String, (u64, bool, Op)>,
    next_op: u64,
    pulls: Arc<AtomicU64>,
    /// Told after a push was recorded and its refs cleared (the reconcile loop, §5).
    push_listeners: Vec<Recipient<Pushed>>,
}

impl ImagesActor {
    pub const NAME: &'static str = "images";
    pub const AREAS: &'static [&'static str] = &["images"];

    pub fn new(journal: Journal, state: ImagesState, config: &Config) -> Self {
        Self::with_settings(journal, state, Settings::from_config(config))
    }

    pub fn with_settings(journal: Journal, state: ImagesState, settings: Settings) -> Self {
        ImagesActor {
            journal,
            state,
            settings: Arc::new(settings),
            inflight: HashMap::new(),
            next_op: 0,
            pulls: Arc::new(AtomicU64::new(0)),
            push_listeners: Vec::new(),
        }
    }

    /// Count pulls and time tarball builds into `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        Arc::make_mut(&mut self.settings).metrics = Some(metrics);
        self
    }

    /// Queues `job` behind whatever runs for `key`; returns the shared outcome.
    fn enqueue(
        &mut self,
        key: String,
        is_ensure: bool,
        ctx: &mut Context<Self>,
        job: impl FnOnce() -> BoxFuture<'static, Result<Outcome, ImageError>> + Send + 'static,
    ) -> Op {
        if is_ensure
            && let Some((_, true, op)) = self.inflight.get(&key)
            && op.peek().is_none()
        {
            return op.clone();
        }
        let before = self.inflight.get(&key).map(|(_, _, op)| op.clone());
        self.next_op += 1;
        let id = self.next_op;
        let addr = ctx.address();
        let done_key = key.clone();
        let handle = actix::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            let result = job().await;
            addr.do_send(Done { key: done_key, id });
            result
        });
        let op: Op = async move {
            handle
                .await
                .unwrap_or_else(|e| Err(ImageError::Io(format!("image job failed: {e}"))))
        }
        .boxed()
        .shared();
        self.inflight.insert(key, (id, is_ensure, op.clone()));
        op
    }
}

impl Actor for ImagesActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(ImagesActor, ImagesState, Images(ImagesEvent) => apply);

/// Why an image operation failed. Cloneable: one pull answers every waiter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("invalid image reference: {0}")]
    Invalid(String),
    #[error("{0}")]
    Registry(String),
    #[error("{0}")]
    Io(String),
    #[error("recording the image cache change: {0}")]
    Log(String),
}

impl From<&AppendError> for ImageError {
    fn from(e: &AppendError) -> Self {
        ImageError::Log(e.to_string())
    }
}

/// A usable tarball for a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnsuredImage {
    /// The normalised reference (cache key).
    pub reference: String,
    /// The tarball inside mkube's filesystem.
    pub local_path: String,
    /// The tarball as RouterOS sees it (NAME-8), for `/container/add file=`.
    pub tarball_path: String,
    pub digest: String,
    pub size: u64,
    /// True when this call pulled from the registry.
    pub pulled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub image: Option<EnsuredImage>,
    pub changed: bool,
}

/// IMG-1: a tarball for `reference`, pulling only when the registry digest differs from the
/// cached one (or nothing valid is cached); with the registry unreachable a tarball with a
/// valid sidecar is used.
#[derive(Debug, Message)]
#[rtype(result = "Result<EnsuredImage, ImageError>")]
pub struct EnsureImage {
    pub reference: String,
    pub correlation: String,
}

/// IMG-2: re-resolve; pull and report `changed` when the digest moved.
#[derive(Debug, Message)]
#[rtype(result = "Result<(EnsuredImage, bool), ImageError>")]
pub struct RefreshImage {
    pub reference: String,
    pub correlation: String,
}

/// IMG-3 / §3.7 `ClearImageDigest`: forget one reference, deleting tarball and sidecar.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ImageError>")]
pub struct ClearImage {
    pub reference: String,
    pub correlation: String,
}

/// §4.1: the registry announced a push of `image` (`repo:tag`, a digest reference or `repo`).
/// Records `PushNotified`, then clears the cached refs of that repository and tag (every tag
/// for a digest push).
#[derive(Debug, Message)]
#[rtype(result = "Result<PushNotice, ImageError>")]
pub struct PushNotify {
    pub image: String,
    pub correlation: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushNotice {
    pub repository: String,
    pub tag: Option<String>,
    /// The cache keys cleared.
    pub cleared: Vec<String>,
}

/// §3.13: the cache as listed by `GET /api/v1/images`; `pod_images` are the desired pods'
/// container images, from which `inUse` is derived.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ImageInfo>")]
pub struct ListImages {
    pub pod_images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    #[serde(rename = "ref")]
    pub reference: String,
    pub tarball_path: String,
    pub digest: String,
    pub pulled_at: String,
    pub size: u64,
    pub in_use: u64,
}

/// How many pulls this actor has started (tests and metrics).
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct PullCount;

/// Internal: record the outcome of a job for `key` if it changes the state.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ImageError>")]
struct Settle {
    key: String,
    change: Change,
    correlation: String,
}

#[derive(Debug)]
enum Change {
    Built {
        digest: String,
        path: String,
        size: u64,
        pulled_at: String,
    },
    Cleared {
        force: bool,
    },
    Pushed {
        tag: Option<String>,
    },
}

/// Internal: the job `id` for `key` finished.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Done {
    key: String,
    id: u64,
}

impl Handler<Done> for ImagesActor {
    type Result = ();
    fn handle(&mut self, msg: Done, _: &mut Context<Self>) {
        if self
            .inflight
            .get(&msg.key)
            .is_some_and(|(id, _, _)| *id == msg.id)
        {
            self.inflight.remove(&msg.key);
        }
    }
}

impl Handler<Settle> for ImagesActor {
    type Result = AtomicResponse<Self, Result<(), ImageError>>;

    fn handle(&mut self, msg: Settle, _: &mut Context<Self>) -> Self::Result {
        let current = self.state.entries.get(&msg.key);
        let event = match msg.change {
            Change::Built {
                digest,
                path,
                size,
                pulled_at,
            } => {
                let same = current.is_some_and(|e| {
                    e.digest == digest
                        && e.tarball
                            .as_ref()
                            .is_some_and(|t| t.path == path && t.size == size && t.digest == digest)
                });
                (!same).then_some(ImagesEvent::TarballBuilt {
                    reference: msg.key,
                    digest,
                    path,
                    size,
                    pulled_at: Some(pulled_at),
                })
            }
            Change::Cleared { force } => (force || current.is_some())
                .then_some(ImagesEvent::ImageCleared { reference: msg.key }),
            Change::Pushed { tag } => Some(ImagesEvent::PushNotified {
                repository: msg.key,
                tag,
            }),
        };
        AtomicResponse::new(match event {
            None => Box::pin(fut::ready(Ok(()))),
            Some(event) => Box::pin(
                commit(self, event.into(), &msg.correlation)
                    .map(|r, _, _| r.map(|_| ()).map_err(|e| ImageError::from(&e))),
            ),
        })
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Checks the reference can be parsed at all before anything is queued for it.
fn validate(reference: &str) -> Result<(), ImageError> {
    crate::oci::reference::parse(reference, "")
        .map(|_| ())
        .map_err(|e| ImageError::Invalid(format!("{reference}: {e}")))
}

/// Runs `job` for the normalised reference behind whatever runs for it.
fn queued(
    act: &mut ImagesActor,
    raw: &str,
    is_ensure: bool,
    ctx: &mut Context<ImagesActor>,
    job: impl FnOnce(
        Arc<Settings>,
        String,
        Addr<ImagesActor>,
        Arc<AtomicU64>,
    ) -> BoxFuture<'static, Result<Outcome, ImageError>>
    + Send
    + 'static,
) -> Result<Op, ImageError> {
    let key = act.settings.normaliser.normalise(raw);
    validate(&key)?;
    let (settings, addr, pulls, k) = (
        act.settings.clone(),
        ctx.address(),
        act.pulls.clone(),
        key.clone(),
    );
    Ok(act.enqueue(key, is_ensure, ctx, move || job(settings, k, addr, pulls)))
}

impl Handler<EnsureImage> for ImagesActor {
    type Result = ResponseFuture<Result<EnsuredImage, ImageError>>;

    fn handle(&mut self, msg: EnsureImage, ctx: &mut Context<Self>) -> Self::Result {
        let correlation = msg.correlation;
        let op = queued(
            self,
            &msg.reference,
            true,
            ctx,
            move |s, key, addr, pulls| ensure_job(s, key, addr, pulls, correlation, false).boxed(),
        );
        Box::pin(async move { unwrap_image(op?.await) })
    }
}

impl Handler<RefreshImage> for ImagesActor {
    type Result = ResponseFuture<Result<(EnsuredImage, bool), ImageError>>;

    fn handle(&mut self, msg: RefreshImage, ctx: &mut Context<Self>) -> Self::Result {
        let correlation = msg.correlation;
        let op = queued(
            self,
            &msg.reference,
            false,
            ctx,
            move |s, key, addr, pulls| ensure_job(s, key, addr, pulls, correlation, true).boxed(),
        );
        Box::pin(async move {
            let outcome = op?.await?;
            let changed = outcome.changed;
            Ok((unwrap_image(Ok(outcome))?, changed))
        })
    }
}

fn unwrap_image(r: Result<Outcome, ImageError>) -> Result<EnsuredImage, ImageError> {
    r?.image
        .ok_or_else(|| ImageError::Io("image operation produced no tarball".into()))
}

impl Handler<ClearImage> for ImagesActor {
    type Result = ResponseFuture<Result<(), ImageError>>;

    fn handle(&mut self, msg: ClearImage, ctx: &mut Context<Self>) -> Self::Result {
        let correlation = msg.correlation;
        let op = queued(self, &msg.reference, false, ctx, move |s, key, addr, _| {
            async move {
                let removed = cache::remove_files(&s, &key).await;
                settle(&addr, key, Change::Cleared { force: removed }, correlation).await?;
                Ok(Outcome {
                    image: None,
                    changed: removed,
                })
            }
            .boxed()
        });
        Box::pin(async move { op?.await.map(|_| ()) })
    }
}

impl Handler<PushNotify> for ImagesActor {
    type Result = ResponseFuture<Result<PushNotice, ImageError>>;

    fn handle(&mut self, msg: PushNotify, ctx: &mut Context<Self>) -> Self::Result {
        let Some((repo, tag)) = names::parse_pushed(&msg.image) else {
            return Box::pin(fut::ready(Err(ImageError::Invalid(msg.image))));
        };
        let repository = self.settings.normaliser.pushed_repository(&repo);
        let wanted = reference::split_registry(&repository).1.to_string();
        let targets: Vec<String> = self
            .state
            .entries
            .keys()
            .filter(|k| {
                let parts = reference::split(k);
                (parts.name == repository || parts.path() == wanted)
                    && match &tag {
                        None => true,
                        Some(t) => parts.tag_unless_pinned() == Some(t.as_str()),
                    }
            })
            .cloned()
            .collect();
        let addr = ctx.address();
        let correlation = msg.correlation;
        let listeners = self.push_listeners.clone();
        Box::pin(async move {
            let change = Change::Pushed { tag: tag.clone() };
            settle(&addr, repository.clone(), change, correlation.clone()).await?;
            for key in &targets {
                let clear = ClearImage {
                    reference: key.clone(),
                    correlation: correlation.clone(),
                };
                addr.send(clear)
                    .await
                    .map_err(|e| ImageError::Io(format!("images actor: {e}")))??;
            }
            for l in &listeners {
                l.do_send(Pushed {
                    repository: repository.clone(),
                });
            }
            Ok(PushNotice {
                repository,
                tag,
                cleared: targets,
            })
        })
    }
}

/// A push was recorded and the repository's cached refs cleared.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Pushed {
    pub repository: String,
}

/// Be told of every push (`Pushed`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribePushes(pub Recipient<Pushed>);

impl Handler<SubscribePushes> for ImagesActor {
    type Result = ();

    fn handle(&mut self, msg: SubscribePushes, _: &mut Context<Self>) {
        self.push_listeners.push(msg.0);
    }
}

impl Handler<ListImages> for ImagesActor {
    type Result = MessageResult<ListImages>;

    fn handle(&mut self, msg: ListImages, _: &mut Context<Self>) -> Self::Result {
        let mut uses: HashMap<String, u64> = HashMap::new();
        for image in &msg.pod_images {
            *uses
                .entry(self.settings.normaliser.normalise(image))
                .or_default() += 1;
        }
        // BTreeMap: sorted by ref.
        let list = self
            .state
            .entries
            .iter()
            .map(|(reference, e)| ImageInfo {
                reference: reference.clone(),
                tarball_path: e
                    .tarball
                    .as_ref()
                    .map(|t| t.path.clone())
                    .unwrap_or_default(),
                digest: e.digest.clone(),
                pulled_at: e
                    .tarball
                    .as_ref()
                    .and_then(|t| t.pulled_at.clone())
                    .unwrap_or_default(),
                size: e.tarball.as_ref().map_or(0, |t| t.size),
                in_use: uses.get(reference).copied().unwrap_or(0),
            })
            .collect();
        MessageResult(list)
    }
}

impl Handler<PullCount> for ImagesActor {
    type Result = u64;
    fn handle(&mut self, _: PullCount, _: &mut Context<Self>) -> u64 {
        self.pulls.load(Ordering::Relaxed)
    }
}

/// The digest the cache records for a normalised reference (a refresh compares the
/// registry's with it).
#[derive(Debug, Message)]
#[rtype(result = "Option<String>")]
struct CachedDigest(String);

impl Handler<CachedDigest> for ImagesActor {
    type Result = Option<String>;
    fn handle(&mut self, CachedDigest(key): CachedDigest, _: &mut Context<Self>) -> Self::Result {
        self.state.entries.get(&key).map(|e| e.digest.clone())
    }
}

async fn settle(
    addr: &Addr<ImagesActor>,
    key: String,
    change: Change,
    correlation: String,
) -> Result<(), ImageError> {
    addr.send(Settle {
        key,
        change,
        correlation,
    })
    .await
    .map_err(|e| ImageError::Io(format!("images actor: {e}")))?
}

/// IMG-1 (`refresh` false) and IMG-2 (`refresh` true) for the normalised `key`.
async fn ensure_job(
    settings: Arc<Settings>,
    key: String,
    addr: Addr<ImagesActor>,
    pulls: Arc<AtomicU64>,
    correlation: String,
    refresh: bool,
) -> Result<Outcome, ImageError> {
    let tarball = settings.tarball_path(&key);
    let on_disk = || {
        cache::read_sidecar(&tarball)
            .and_then(|sc| cache::valid_tarball(&tarball, &sc).map(|size| (sc.digest, size)))
    };
    let resolved = cache::resolve(&settings, &key).await;
    let (digest, size, pulled, changed) = match resolved {
        Err(e) if refresh => {
            return Err(ImageError::Registry(format!("refreshing image {key}: {e}")));
        }
        Err(e) => match on_disk() {
            Some((digest, size)) => {
                tracing::warn!(reference = %key, error = %e, "registry unreachable, using the cached tarball");
                (digest, size, false, false)
            }
            None => return Err(ImageError::Registry(format!("ensuring image {key}: {e}"))),
        },
        Ok(digest) => {
            let stored = if refresh {
                addr.send(CachedDigest(key.clone()))
                    .await
                    .map_err(|e| ImageError::Io(format!("images actor: {e}")))?
                    .or_else(|| cache::read_sidecar(&tarball).map(|s| s.digest))
            } else {
                None
            };
            match on_disk() {
                Some((d, size)) if d == digest => (d, size, false, false),
                _ => {
                    let (_, size) = cache::pull(&settings, &key, &digest, &pulls)
                        .await
                        .map_err(|e| ImageError::Registry(format!("pulling image {key}: {e}")))?;
                    let changed = refresh && stored.as_deref() != Some(digest.as_str());
                    (digest, size, true, changed)
                }
            }
        }
    };
    let pulled_at = if pulled {
        now_rfc3339()
    } else {
        std::fs::metadata(&tarball)
            .and_then(|m| m.modified())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_else(|_| now_rfc3339())
    };
    let host_path = settings.host_path(&tarball);
    let change = Change::Built {
        digest: digest.clone(),
        path: host_path.clone(),
        size,
        pulled_at,
    };
    settle(&addr, key.clone(), change, correlation).await?;
    Ok(Outcome {
        image: Some(EnsuredImage {
            reference: key,
            local_path: tarball.to_string_lossy().into_owned(),
            tarball_path: host_path,
            digest,
            size,
            pulled,
        }),
        changed,
    })
}
