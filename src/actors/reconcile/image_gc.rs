//! The image collector's schedule (images.md §3.12, IMG-5): every `storage.gcIntervalMinutes`
//! the images actor collects, with `inUse` derived from the desired pods at that moment. Here,
//! above both, because the images actor must not depend on the pods actor.

use crate::actors::images::gc::{CollectGarbage, GcReport, GetNormaliser, images_in_use};
use crate::actors::images::{ImageError, ImagesActor};
use crate::actors::pods::PodsActor;
use crate::actors::pods::state::PodsState;
use crate::actors::published::Published;
use actix::prelude::*;
use std::time::Duration;

/// Settings of the periodic collector (`storage.gc*`).
#[derive(Debug, Clone)]
pub struct GcSchedule {
    /// Zero disables the collector.
    pub interval: Duration,
    pub keep_last_n: usize,
    pub dry_run: bool,
}

/// Runs a collection every `interval` for as long as the actix system lives.
pub fn spawn(
    images: Addr<ImagesActor>,
    pods: Addr<PodsActor>,
    pods_view: Published<PodsState>,
    schedule: GcSchedule,
) {
    if schedule.interval.is_zero() {
        return;
    }
    actix::spawn(async move {
        let mut tick = tokio::time::interval(schedule.interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = collect_once(&images, &pods, &pods_view, &schedule).await {
                tracing::warn!(error = %e, "image GC failed");
            }
        }
    });
}

/// One collection with `inUse` derived from the pods actor's desired pods.
pub async fn collect_once(
    images: &Addr<ImagesActor>,
    pods: &Addr<PodsActor>,
    pods_view: &Published<PodsState>,
    schedule: &GcSchedule,
) -> Result<GcReport, ImageError> {
    let mailbox = |e: MailboxError| ImageError::Io(format!("actor unavailable: {e}"));
    let desired = pods_view.read(pods).await.map_err(mailbox)?;
    let normaliser = images.send(GetNormaliser).await.map_err(mailbox)?;
    let msg = CollectGarbage {
        in_use: images_in_use(desired.state.pods.values().map(|p| &p.pod), &normaliser),
        keep_last_n: schedule.keep_last_n,
        dry_run: schedule.dry_run,
        correlation: format!("gc-{}", uuid::Uuid::new_v4()),
    };
    images.send(msg).await.map_err(mailbox)?
}
