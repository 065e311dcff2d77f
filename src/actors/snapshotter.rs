//! The snapshotter follows the node's log in stream order, folds its own copy of
//! `ClusterState`, and writes the node's snapshot every N events and on request (clean
//! shutdown). Following the stream,
//! rather than collecting from actors, makes every snapshot exactly the fold up to a sequence.
//!
//! The N counts from the snapshot boot replayed from, not from the start of the process: a
//! controller killed again and again before N new events (the soak's kill -9s) otherwise
//! never wrote one, and each boot replayed a longer tail (8,000 events after 30 minutes). A
//! due snapshot whose write fails is tried again on a timer (1 s doubling to 30 s), not only
//! when the next event comes: a log gone quiet right after a NATS restart kept a stale one.

use super::cluster::Fold;
use crate::events::log::{EventLog, LogError};
use crate::events::snapshot::SnapshotStore;
use crate::metrics::Metrics;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[derive(Clone)]
pub struct Snapshotter {
    tx: mpsc::Sender<oneshot::Sender<Result<u64, LogError>>>,
}

impl Snapshotter {
    pub fn spawn(
        log: EventLog,
        store: SnapshotStore,
        fold: Fold,
        every: u64,
        metrics: Metrics,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(run(log, store, fold, every.max(1), metrics, rx));
        Snapshotter { tx }
    }

    /// Catches up to the node's current last sequence and writes a snapshot; returns the
    /// sequence it covers.
    pub async fn flush(&self) -> Result<u64, LogError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(reply)
            .await
            .map_err(|_| LogError::Other("snapshotter stopped".into()))?;
        answer
            .await
            .map_err(|_| LogError::Other("snapshotter stopped".into()))?
    }
}

async fn run(
    log: EventLog,
    store: SnapshotStore,
    mut fold: Fold,
    every: u64,
    metrics: Metrics,
    mut requests: mpsc::Receiver<oneshot::Sender<Result<u64, LogError>>>,
) {
    // What boot replayed past the last snapshot counts (a kill -9 writes no final one).
    let mut since_snapshot = fold.folded;
    // A due snapshot whose write failed (the store not answering yet after a NATS restart)
    // is tried again after this wait, doubling, even if no new event comes.
    let mut retry: Option<(tokio::time::Instant, Duration)> = None;
    let due = |since: u64| since >= every;
    if due(since_snapshot) {
        retry = attempt(&store, &fold, &metrics, &mut since_snapshot, None).await;
    }
    let records = log.follow(fold.last_seq + 1);
    futures::pin_mut!(records);
    loop {
        let retry_at = retry.map(|(at, _)| at);
        tokio::select! {
            Some(record) = records.next() => {
                if record.seq <= fold.last_seq {
                    continue;
                }
                let _ = fold.record(&record);
                fold.undecodable.clear();
                since_snapshot += 1;
                if due(since_snapshot) && retry.is_none() {
                    retry = attempt(&store, &fold, &metrics, &mut since_snapshot, None).await;
                }
            }
            _ = sleep_until_some(retry_at) => {
                let wait = retry.map(|(_, w)| w);
                retry = attempt(&store, &fold, &metrics, &mut since_snapshot, wait).await;
            }
            request = requests.recv() => {
                let Some(reply) = request else { return };
                let result = match catch_up(&log, &mut fold).await {
                    Ok(()) => save(&store, &fold, &metrics).await.map(|_| fold.last_seq),
                    Err(e) => Err(e),
                };
                if result.is_ok() {
                    since_snapshot = 0;
                    retry = None;
                }
                let _ = reply.send(result);
            }
        }
    }
}

/// How long after a failed snapshot write the first retry comes, and the longest wait.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Writes a due snapshot; on failure answers when to try again (`waited`: the last wait).
async fn attempt(
    store: &SnapshotStore,
    fold: &Fold,
    metrics: &Metrics,
    since_snapshot: &mut u64,
    waited: Option<Duration>,
) -> Option<(tokio::time::Instant, Duration)> {
    if save(store, fold, metrics).await.is_ok() {
        *since_snapshot = 0;
        return None;
    }
    let wait = waited.map_or(RETRY_FIRST, |w| (w * 2).min(RETRY_MAX));
    Some((tokio::time::Instant::now() + wait, wait))
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Folds everything up to the node's current last sequence with a fresh bounded reader, so a
/// flush never waits on the follower. The follower then skips what was folded here.
async fn catch_up(log: &EventLog, fold: &mut Fold) -> Result<(), LogError> {
    let target = log.last_sequence().await?;
    let records = log.read(fold.last_seq + 1, target).await?;
    futures::pin_mut!(records);
    while let Some(record) = records.next().await {
        let record = record?;
        if record.seq > fold.last_seq {
            let _ = fold.record(&record);
            fold.undecodable.clear();
        }
    }
    if fold.last_seq < target {
        return Err(LogError::Unavailable(format!(
            "snapshot catch-up stopped at {} of {target}",
            fold.last_seq
        )));
    }
    Ok(())
}

async fn save(store: &SnapshotStore, fold: &Fold, metrics: &Metrics) -> Result<(), LogError> {
    let snapshot = fold.to_snapshot();
    match store.save(&snapshot).await {
        Ok(bytes) => {
            metrics.snapshot_at(snapshot.taken_at.timestamp(), true);
            tracing::info!(seq = snapshot.last_seq, bytes, "snapshot written");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, "snapshot not written");
            Err(e)
        }
    }
}
