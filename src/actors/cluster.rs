//! `ClusterState`: every actor's state in one plain struct, and `Fold`, which turns log records
//! into it. Boot replay, snapshots and `mkube replay` all use this one fold.

use super::configmaps::state::ConfigMapsState;
use super::consistency::state::ConsistencyState;
use super::dns::state::DnsState;
use super::images::state::ImagesState;
use super::ipam::state::IpamState;
use super::pods::state::PodsState;
use super::veths::state::VethsState;
use crate::events::snapshot::Snapshot;
use crate::events::{DecodeError, Envelope, Event, Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    pub pods: PodsState,
    pub veths: VethsState,
    pub ipam: IpamState,
    pub dns: DnsState,
    pub images: ImagesState,
    pub consistency: ConsistencyState,
    /// Added after the first snapshots were written: absent in older ones.
    #[serde(default)]
    pub configmaps: ConfigMapsState,
}

impl ClusterState {
    /// Pure: no I/O, no clock, no randomness. Replay depends on it.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Pods(e) => self.pods.apply(e),
            Event::Lifecycle(e) => self.pods.apply_lifecycle(e),
            Event::Ipam(e) => self.ipam.apply(e),
            Event::Veths(e) => self.veths.apply(e),
            Event::Dns(e) => self.dns.apply(e),
            Event::Images(e) => self.images.apply(e),
            Event::Consistency(e) => self.consistency.apply(e),
            Event::ConfigMaps(e) => self.configmaps.apply(e),
        }
    }
}

/// The running fold of a log: state, position, and each subject's last sequence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fold {
    pub state: ClusterState,
    pub last_seq: u64,
    pub subject_seqs: BTreeMap<String, u64>,
    /// Events folded by this fold (not counting a snapshot it started from).
    pub folded: u64,
    /// Records skipped because they could not be decoded.
    pub undecodable: Vec<DecodeError>,
}

impl Fold {
    pub fn from_snapshot(snapshot: Snapshot<ClusterState>) -> Self {
        Fold {
            state: snapshot.state,
            last_seq: snapshot.last_seq,
            subject_seqs: snapshot.subject_seqs,
            ..Fold::default()
        }
    }

    pub fn to_snapshot(&self) -> Snapshot<ClusterState> {
        Snapshot::new(self.last_seq, self.subject_seqs.clone(), self.state.clone())
    }

    /// Folds one record. An undecodable record still moves the positions (the stream holds it),
    /// is remembered with its sequence, and is skipped: it never stops the fold.
    pub fn record(&mut self, record: &Record) -> Result<Envelope, DecodeError> {
        self.last_seq = self.last_seq.max(record.seq);
        self.subject_seqs.insert(record.subject.clone(), record.seq);
        match record.decode() {
            Ok(envelope) => {
                self.state.apply(&envelope.event);
                self.folded += 1;
                Ok(envelope)
            }
            Err(e) => {
                self.undecodable.push(e.clone());
                Err(e)
            }
        }
    }
}
