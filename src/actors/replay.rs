//! Replay: fold the log into a `ClusterState` with `apply` only — no clients exist here, so
//! replay cannot touch the device, DNS or the registry.

use super::cluster::{ClusterState, Fold};
use crate::events::log::{EventLog, LogError};
use crate::events::snapshot::SnapshotStore;
use crate::events::{DecodeError, Envelope, Record};
use futures::StreamExt;
use std::time::{Duration, Instant};

/// Folds records `fold.last_seq + 1 ..= until` from the log into `fold`. `visit` sees every
/// record and its decoding (for printing); undecodable records are logged and skipped.
pub async fn fold_log(
    log: &EventLog,
    fold: &mut Fold,
    until: u64,
    mut visit: impl FnMut(&Record, &Result<Envelope, DecodeError>) -> Visit,
) -> Result<(), LogError> {
    let records = log.read(fold.last_seq + 1, until).await?;
    futures::pin_mut!(records);
    while let Some(record) = records.next().await {
        let record = record?;
        let decoded = fold.record(&record);
        if let Err(e) = &decoded {
            tracing::error!(seq = e.seq, error = %e.reason, "skipping undecodable event");
        }
        if visit(&record, &decoded) == Visit::Stop {
            break;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    Continue,
    Stop,
}

pub struct BootReplay {
    pub fold: Fold,
    /// The sequence the snapshot covered, when one was used.
    pub snapshot_seq: Option<u64>,
    /// The node's last sequence when replay began (its own subjects only, issue 11 item 5);
    /// replay reads exactly up to it.
    pub target: u64,
    pub duration: Duration,
}

/// The node's newest snapshot, then the tail of its own subjects up to its last sequence at
/// boot. Other nodes' records on a shared stream are never read (see `EventLog`).
pub async fn boot_replay(
    log: &EventLog,
    snapshots: &SnapshotStore,
) -> Result<BootReplay, LogError> {
    let started = Instant::now();
    let target = log.last_sequence().await?;
    let snapshot = snapshots.load::<ClusterState>().await?;
    let snapshot = match snapshot {
        // A snapshot ahead of the node's records belongs to a stream that was lost and
        // re-created.
        Some(s) if s.last_seq > target => {
            tracing::warn!(
                snapshot_seq = s.last_seq,
                stream_last_seq = target,
                "snapshot is ahead of the stream; ignoring it"
            );
            None
        }
        other => other,
    };
    let snapshot_seq = snapshot.as_ref().map(|s| s.last_seq);
    let mut fold = snapshot.map(Fold::from_snapshot).unwrap_or_default();
    fold_log(log, &mut fold, target, |_, _| Visit::Continue).await?;
    Ok(BootReplay {
        fold,
        snapshot_seq,
        target,
        duration: started.elapsed(),
    })
}
