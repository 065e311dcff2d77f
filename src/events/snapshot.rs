//! Snapshots: the folded state of every actor plus the sequence it covers, so boot replays
//! only the tail. Stored in a JetStream object store (`<stream>_SNAPSHOTS`, object `state`),
//! CBOR-encoded; the newest one replaces the previous. Generic over the state type: `events/`
//! stores what `actors/` folds without knowing its shape.

use super::log::{EventLog, LogError};
use async_nats::jetstream::object_store::{self, ObjectStore};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use tokio::io::AsyncReadExt;

const OBJECT: &str = "state";
/// Upper bound for one snapshot read or write.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Bumped when the snapshot layout changes; older snapshots are ignored (full replay instead).
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot<T> {
    pub format: u32,
    /// The last stream sequence folded into `state`.
    pub last_seq: u64,
    pub taken_at: DateTime<Utc>,
    /// Last sequence of every subject up to `last_seq` (writers' expected sequences).
    pub subject_seqs: BTreeMap<String, u64>,
    pub state: T,
}

impl<T> Snapshot<T> {
    pub fn new(last_seq: u64, subject_seqs: BTreeMap<String, u64>, state: T) -> Self {
        Snapshot {
            format: FORMAT,
            last_seq,
            taken_at: Utc::now(),
            subject_seqs,
            state,
        }
    }
}

impl<T: Serialize> Snapshot<T> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(self, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }
}

impl<T: DeserializeOwned> Snapshot<T> {
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let snap: Snapshot<T> = ciborium::from_reader(bytes).map_err(|e| e.to_string())?;
        if snap.format != FORMAT {
            return Err(format!("snapshot format {} is not {FORMAT}", snap.format));
        }
        Ok(snap)
    }
}

#[derive(Clone)]
pub struct SnapshotStore {
    store: ObjectStore,
}

impl SnapshotStore {
    pub fn bucket_name(stream: &str) -> String {
        format!("{stream}_SNAPSHOTS")
    }

    pub async fn open(log: &EventLog) -> Result<SnapshotStore, LogError> {
        let settings = log.settings();
        let bucket = Self::bucket_name(&settings.stream);
        let js = log.jetstream();
        let store = match js.get_object_store(&bucket).await {
            Ok(store) => store,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: bucket.clone(),
                    description: Some("mkube state snapshots".into()),
                    num_replicas: settings.replicas.max(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| LogError::Unavailable(format!("snapshot bucket {bucket}: {e}")))?,
        };
        Ok(SnapshotStore { store })
    }

    pub async fn save<T: Serialize>(&self, snapshot: &Snapshot<T>) -> Result<usize, LogError> {
        let bytes = snapshot.encode();
        let mut reader = bytes.as_slice();
        tokio::time::timeout(STORE_TIMEOUT, self.store.put(OBJECT, &mut reader))
            .await
            .map_err(|_| LogError::Unavailable("writing snapshot timed out".into()))?
            .map_err(|e| LogError::Unavailable(format!("writing snapshot: {e}")))?;
        Ok(bytes.len())
    }

    /// The newest snapshot, or `None` when there is none or it cannot be read (then the caller
    /// replays the whole log: a broken snapshot costs time, never state).
    pub async fn load<T: DeserializeOwned>(&self) -> Result<Option<Snapshot<T>>, LogError> {
        // Object reads go through a consumer that can stall across a NATS restart: bounded.
        tokio::time::timeout(STORE_TIMEOUT, self.load_inner())
            .await
            .map_err(|_| LogError::Unavailable("reading snapshot timed out".into()))?
    }

    async fn load_inner<T: DeserializeOwned>(&self) -> Result<Option<Snapshot<T>>, LogError> {
        let mut object = match self.store.get(OBJECT).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::Unavailable(format!("reading snapshot: {e}"))),
        };
        let mut bytes = Vec::new();
        if let Err(e) = object.read_to_end(&mut bytes).await {
            tracing::warn!(error = %e, "snapshot unreadable; replaying the whole log");
            return Ok(None);
        }
        match Snapshot::decode(&bytes) {
            Ok(snap) => Ok(Some(snap)),
            Err(e) => {
                tracing::warn!(error = %e, "snapshot undecodable; replaying the whole log");
                Ok(None)
            }
        }
    }
}
