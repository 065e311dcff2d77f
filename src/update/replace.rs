//! replaceContainer (images.md §5.3, §4.6) with the required corrections: a swap mark written
//! before the device is touched; stop → remove → fresh root-dir → add with the old settings
//! (user and env lists included) and the new image → wait for extraction → start; the new
//! container must stay running through the health window; start is retried; otherwise the
//! previous image comes back. Used by mkube-update and by mkube's update API alike.

use super::mark::{Marks, Settings, Source, SwapMark};
use crate::routeros::{Container, RosClient, RosError, schedule};
use std::time::{Duration, Instant};

/// How a swap judges the new container.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The new container must stay running this long (15 s).
    pub health: Duration,
    /// Start attempts before rolling back (3).
    pub start_retries: u32,
    /// Extraction wait (120 s of device time).
    pub extract_secs: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            health: Duration::from_secs(15),
            start_retries: 3,
            extract_secs: schedule::EXTRACT_TIMEOUT,
        }
    }
}

/// What to swap in.
#[derive(Debug, Clone)]
pub struct Swap {
    pub container: String,
    pub image: Source,
    /// The image to go back to; `None` = what the old row was made from.
    pub rollback: Option<Source>,
    pub repo: String,
    pub digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("container {0} not found")]
    Missing(String),
    #[error("a swap of {0} is already in progress")]
    Busy(String),
    #[error("{0}")]
    Mark(String),
    #[error("RouterOS: {0}")]
    Ros(#[from] RosError),
    /// The new image failed and the previous one runs again.
    #[error("new image failed ({reason}); rolled back to {rollback}")]
    RolledBack { reason: String, rollback: String },
    /// The new image failed and so did the way back.
    #[error("new image failed ({reason}); rollback failed too: {rollback_error}")]
    RollbackFailed {
        reason: String,
        rollback_error: String,
    },
}

/// Replaces `swap.container`; the mark lives while the device is touched.
pub async fn replace(
    ros: &RosClient,
    marks: &Marks,
    policy: &Policy,
    swap: Swap,
) -> Result<Container, SwapError> {
    replace_from(ros, marks, policy, swap, None).await
}

/// [`replace`] starting from `seen`, the container's row as read a moment ago by the caller
/// under the same device lock (it is not read again); `None` reads it.
pub async fn replace_from(
    ros: &RosClient,
    marks: &Marks,
    policy: &Policy,
    swap: Swap,
    seen: Option<Container>,
) -> Result<Container, SwapError> {
    if marks.exists(&swap.container) {
        return Err(SwapError::Busy(swap.container));
    }
    let old = match seen.filter(|row| row.name == swap.container && !row.id.is_empty()) {
        Some(row) => row,
        None => ros
            .find_container(&swap.container)
            .await?
            .ok_or_else(|| SwapError::Missing(swap.container.clone()))?,
    };
    let mark = SwapMark {
        container: swap.container.clone(),
        old_id: Some(old.id.clone()),
        settings: Settings::of(&old),
        new_image: swap.image,
        rollback: swap.rollback.or_else(|| Source::of_row(&old)),
        repo: swap.repo,
        digest: swap.digest,
    };
    marks.write(&mark).map_err(SwapError::Mark)?;
    let result = run(ros, policy, &mark, Some(&old)).await;
    marks.clear(&mark.container);
    result
}

/// Creates a container that does not exist yet (bootstrap), under a mark, with the same health
/// check; no rollback (there is nothing to go back to).
pub async fn create(
    ros: &RosClient,
    marks: &Marks,
    policy: &Policy,
    settings: Settings,
    image: Source,
) -> Result<Container, SwapError> {
    if marks.exists(&settings.name) {
        return Err(SwapError::Busy(settings.name));
    }
    let mark = SwapMark {
        container: settings.name.clone(),
        old_id: None,
        settings,
        new_image: image,
        rollback: None,
        repo: String::new(),
        digest: String::new(),
    };
    marks.write(&mark).map_err(SwapError::Mark)?;
    let result = run(ros, policy, &mark, None).await;
    marks.clear(&mark.container);
    result
}

/// Takes the old row down (when given), brings the new image up and checks it; on failure
/// brings the rollback image up.
async fn run(
    ros: &RosClient,
    policy: &Policy,
    mark: &SwapMark,
    old: Option<&Container>,
) -> Result<Container, SwapError> {
    if let Some(old) = old
        && let Err(e) = ros.take_down(old).await
    {
        restart_if_still_there(ros, &old.name).await;
        return Err(e.into());
    }
    let spec = mark.settings.spec(&mark.new_image);
    let reason = match up_and_healthy(ros, policy, &spec.name, || {
        ros.bring_up(&spec, policy.extract_secs)
    })
    .await
    {
        Ok(c) => return Ok(c),
        Err(reason) => reason,
    };
    roll_back(ros, policy, mark, reason).await
}

async fn roll_back(
    ros: &RosClient,
    policy: &Policy,
    mark: &SwapMark,
    reason: String,
) -> Result<Container, SwapError> {
    let Some(rollback) = &mark.rollback else {
        return Err(SwapError::RollbackFailed {
            reason,
            rollback_error: "no previous image known".into(),
        });
    };
    tracing::warn!(container = %mark.container, %reason, %rollback, "new image failed, rolling back");
    let back = async {
        if let Some(row) = ros.find_container(&mark.container).await? {
            ros.take_down(&row).await?;
        }
        let spec = mark.settings.spec(rollback);
        ros.bring_up(&spec, policy.extract_secs).await?;
        ros.wait_running(&mark.container).await
    };
    match back.await {
        Ok(_) => Err(SwapError::RolledBack {
            reason,
            rollback: rollback.to_string(),
        }),
        Err(e) => Err(SwapError::RollbackFailed {
            reason,
            rollback_error: e.to_string(),
        }),
    }
}

/// A take-down that failed half way may leave the old container stopped: start it again.
async fn restart_if_still_there(ros: &RosClient, name: &str) {
    if let Ok(Some(row)) = ros.find_container(name).await
        && row.state.is_stopped()
        && let Err(e) = ros.start_container(&row.id).await
    {
        tracing::error!(container = name, error = %e, "old container not restarted");
    }
}

/// Brings the container up (`first`), then waits for running and the health window, starting
/// it again up to `start_retries` times in all. The error is the last reason.
async fn up_and_healthy<F, Fut>(
    ros: &RosClient,
    policy: &Policy,
    name: &str,
    first: F,
) -> Result<Container, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, RosError>>,
{
    first().await.map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 0..policy.start_retries.max(1) {
        if attempt > 0 {
            match ros.find_container(name).await {
                Ok(Some(row)) if row.state.is_stopped() => {
                    tracing::info!(
                        container = name,
                        attempt,
                        "starting the new container again"
                    );
                    if let Err(e) = ros.start_container(&row.id).await {
                        last = e.to_string();
                        continue;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("container {name} vanished")),
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            }
        }
        match ros.wait_running(name).await {
            Ok(row) => match healthy(ros, policy, row).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            },
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The container stays running for the whole health window (polled every second). `running` is
/// the row that was just read running (by `wait_running`): it is the window's first look, so the
/// check reads again only after a second, and a zero window reads nothing.
pub async fn healthy(
    ros: &RosClient,
    policy: &Policy,
    running: Container,
) -> Result<Container, String> {
    let deadline = Instant::now() + policy.health;
    let name = running.name.clone();
    let mut row = running;
    loop {
        if !row.state.is_running() {
            let why = if row.comment.is_empty() {
                format!("{:?}", row.state)
            } else {
                row.comment.clone()
            };
            return Err(format!("{name} stopped during the health check: {why}"));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(row);
        }
        tokio::time::sleep((deadline - now).min(Duration::from_secs(1))).await;
        row = ros
            .find_container(&name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("container {name} vanished during the health check"))?;
    }
}

/// How a swap left behind by a crash ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// The old container was never removed; it runs again.
    KeptOld,
    /// The new image runs.
    Finished,
    /// The previous image runs.
    RolledBack(String),
    /// Neither could be brought up.
    Failed(String),
}

/// Finishes or undoes a swap whose process died: never leaves two containers of one name (the
/// device refuses a second add of a name, and every add here follows a take-down or finds none).
pub async fn recover(ros: &RosClient, policy: &Policy, mark: &SwapMark) -> Recovered {
    let name = &mark.container;
    let row = match ros.find_container(name).await {
        Ok(r) => r,
        Err(e) => return Recovered::Failed(format!("reading {name}: {e}")),
    };
    match row {
        Some(r) if mark.old_id.as_deref() == Some(r.id.as_str()) => {
            // The old row: never removed (it stays), or being removed (then the swap goes on).
            let settled = ros
                .poll_container(name, schedule::GONE_TIMEOUT, "settling", |row| {
                    row.is_none_or(|c| c.state.is_stopped() || c.state.is_running())
                })
                .await;
            match settled {
                Ok(None) => finish_from_scratch(ros, policy, mark, "old row removed".into()).await,
                Ok(Some(r)) => match ensure_running(ros, &r).await {
                    Ok(()) => Recovered::KeptOld,
                    Err(e) => Recovered::Failed(e),
                },
                Err(e) => Recovered::Failed(e.to_string()),
            }
        }
        Some(r) => {
            let row = match settle(ros, &r).await {
                Ok(row) => row,
                // Neither running nor stopped in time (or its import failed): whatever is
                // there is taken down and the previous image brought back.
                Err(reason) => return rolled_back(roll_back(ros, policy, mark, reason).await),
            };
            let is_new = mark.new_image.made(&row);
            let checked = up_and_healthy(ros, policy, name, || async {
                if row.state.is_stopped() {
                    ros.start_container(&row.id).await?;
                }
                Ok(row.id.clone())
            })
            .await;
            match (checked, is_new) {
                (Ok(_), true) => Recovered::Finished,
                (Ok(_), false) => Recovered::RolledBack("found the previous image running".into()),
                (Err(reason), true) => rolled_back(roll_back(ros, policy, mark, reason).await),
                (Err(reason), false) => Recovered::Failed(reason),
            }
        }
        None => finish_from_scratch(ros, policy, mark, "no container".into()).await,
    }
}

fn rolled_back(result: Result<Container, SwapError>) -> Recovered {
    match result {
        Err(SwapError::RolledBack { reason, .. }) => Recovered::RolledBack(reason),
        Err(e) => Recovered::Failed(e.to_string()),
        Ok(_) => Recovered::Finished,
    }
}

/// The container is gone (removed, or its import failed): add it again from the mark.
async fn finish_from_scratch(
    ros: &RosClient,
    policy: &Policy,
    mark: &SwapMark,
    why: String,
) -> Recovered {
    tracing::info!(container = %mark.container, %why, "finishing the interrupted swap");
    match run(ros, policy, mark, None).await {
        Ok(_) => Recovered::Finished,
        Err(SwapError::RolledBack { reason, .. }) => Recovered::RolledBack(reason),
        Err(e) => Recovered::Failed(e.to_string()),
    }
}

/// Waits out an import or a stop in progress; the row as it then is.
async fn settle(ros: &RosClient, row: &Container) -> Result<Container, String> {
    if row.state.is_running() || row.state.is_stopped() {
        return Ok(row.clone());
    }
    ros.wait_extracted(&row.name)
        .await
        .map_err(|e| e.to_string())
}

async fn ensure_running(ros: &RosClient, row: &Container) -> Result<(), String> {
    let row = settle(ros, row).await?;
    if row.state.is_stopped() {
        ros.start_container(&row.id)
            .await
            .map_err(|e| e.to_string())?;
    }
    ros.wait_running(&row.name)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
