//! The snapshotter follows the log in stream order, folds its own copy of `ClusterState`, and
//! writes a snapshot every N events and on request (clean shutdown). Following the stream,
//! rather than collecting from actors, makes every snapshot exactly the fold up to a sequence.

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

    /// Catches up to the stream's current last sequence and writes a snapshot; returns the
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
    let mut since_snapshot = 0u64;
    let mut backoff = Duration::from_millis(200);
    loop {
        let records = match log.follow(fold.last_seq + 1).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "snapshotter cannot follow the log yet");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    req = requests.recv() => match req {
                        Some(reply) => { let _ = reply.send(Err(e)); }
                        None => return,
                    },
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        futures::pin_mut!(records);
        loop {
            tokio::select! {
                next = records.next() => match next {
                    Some(Ok(record)) => {
                        if record.seq <= fold.last_seq {
                            continue;
                        }
                        let _ = fold.record(&record);
                        fold.undecodable.clear();
                        since_snapshot += 1;
                        if since_snapshot >= every && save(&store, &fold, &metrics).await.is_ok() {
                            since_snapshot = 0;
                        }
                    }
                    // Reader lost (NATS restart): follow again from where the fold is.
                    _ => break,
                },
                req = requests.recv() => {
                    let Some(reply) = req else { return };
                    let result = catch_up(&log, &mut records, &mut fold).await;
                    let result = match result {
                        Ok(()) => save(&store, &fold, &metrics).await.map(|_| fold.last_seq),
                        Err(e) => Err(e),
                    };
                    if result.is_ok() {
                        since_snapshot = 0;
                    }
                    let _ = reply.send(result);
                }
            }
        }
    }
}

async fn catch_up(
    log: &EventLog,
    records: &mut (impl futures::Stream<Item = Result<crate::events::Record, LogError>> + Unpin),
    fold: &mut Fold,
) -> Result<(), LogError> {
    let target = log.last_sequence().await?;
    while fold.last_seq < target {
        match tokio::time::timeout(Duration::from_secs(5), records.next()).await {
            Ok(Some(Ok(record))) => {
                if record.seq > fold.last_seq {
                    let _ = fold.record(&record);
                    fold.undecodable.clear();
                }
            }
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) | Err(_) => {
                return Err(LogError::Unavailable(format!(
                    "snapshot catch-up stalled at {} of {target}",
                    fold.last_seq
                )));
            }
        }
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
