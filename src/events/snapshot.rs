//! Snapshots: the folded state of every actor plus the sequence it covers, so boot replays
//! only the tail. Stored in a JetStream object store (`<stream>_SNAPSHOTS`), one object per
//! node (`state.<node>`, the node escaped as a subject token), CBOR-encoded; the newest one
//! replaces the previous. Generic over the state type: `events/` stores what `actors/` folds
//! without knowing its shape.
//!
//! Versions before issue 11 item 5 wrote one object `state` per stream. It carries no node, so
//! it is loaded only when every subject it folded is this node's: then it is exactly this
//! node's fold (the single-node upgrade keeps its snapshot); otherwise it is ignored and the
//! node replays its own subjects in full. It is never written or deleted any more.

use super::log::{EventLog, LogError};
use super::subject;
use async_nats::jetstream::object_store::{self, ObjectStore};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use tokio::io::AsyncReadExt;

/// The one object of versions before per-node snapshots.
const LEGACY_OBJECT: &str = "state";
/// Upper bound for one snapshot write.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Upper bound for one try at reading a snapshot, and the tries: a read whose object is
/// replaced meanwhile (the snapshotter writing the next one) waits for chunks that are gone
/// until it times out, so it is read again rather than waited on for the whole bound.
const READ_TRY: std::time::Duration = std::time::Duration::from_secs(5);
const READ_TRIES: u32 = 3;
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

impl<T> Snapshot<T> {
    /// Whether every subject folded into this snapshot is `node`'s: a snapshot holding any
    /// other node's subject must not become this node's state.
    pub fn belongs_to(&self, node: &str) -> bool {
        let filter = subject::stream_filter(node);
        self.subject_seqs
            .keys()
            .all(|s| subject::matches(&filter, s))
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
    node: String,
}

impl SnapshotStore {
    pub fn bucket_name(stream: &str) -> String {
        format!("{stream}_SNAPSHOTS")
    }

    /// The object holding `node`'s snapshot; never the legacy `state`, never another node's.
    pub fn object_name(node: &str) -> String {
        format!("{LEGACY_OBJECT}.{}", subject::escape_token(node))
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
                    num_replicas: log.replicas(),
                    ..Default::default()
                })
                .await
                .map_err(|e| LogError::Unavailable(format!("snapshot bucket {bucket}: {e}")))?,
        };
        Ok(SnapshotStore {
            store,
            node: settings.node.clone(),
        })
    }

    pub async fn save<T: Serialize>(&self, snapshot: &Snapshot<T>) -> Result<usize, LogError> {
        let bytes = snapshot.encode();
        let mut reader = bytes.as_slice();
        let object = Self::object_name(&self.node);
        tokio::time::timeout(STORE_TIMEOUT, self.store.put(object.as_str(), &mut reader))
            .await
            .map_err(|_| LogError::Unavailable("writing snapshot timed out".into()))?
            .map_err(|e| LogError::Unavailable(format!("writing snapshot: {e}")))?;
        Ok(bytes.len())
    }

    /// The newest snapshot, or `None` when there is none or it cannot be read (then the caller
    /// replays the whole log: a broken snapshot costs time, never state).
    pub async fn load<T: DeserializeOwned>(&self) -> Result<Option<Snapshot<T>>, LogError> {
        // Object reads go through a consumer that can stall (across a NATS restart, or when
        // the object is replaced under the read): bounded, and tried again.
        for _ in 0..READ_TRIES {
            if let Ok(result) = tokio::time::timeout(READ_TRY, self.load_inner()).await {
                return result;
            }
        }
        Err(LogError::Unavailable("reading snapshot timed out".into()))
    }

    async fn load_inner<T: DeserializeOwned>(&self) -> Result<Option<Snapshot<T>>, LogError> {
        let own = self.read(&Self::object_name(&self.node)).await?;
        let found = match own {
            Some(found) => found,
            None => self.read(LEGACY_OBJECT).await?.flatten(),
        };
        let Some(bytes) = found else {
            return Ok(None);
        };
        match Snapshot::<T>::decode(&bytes) {
            Ok(snap) if snap.belongs_to(&self.node) => Ok(Some(snap)),
            Ok(_) => {
                tracing::warn!(
                    node = %self.node,
                    "snapshot holds other nodes' subjects; replaying this node's log instead"
                );
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(error = %e, "snapshot undecodable; replaying the whole log");
                Ok(None)
            }
        }
    }

    /// The bytes of one object: `None` when it does not exist, `Some(None)` when it exists
    /// but cannot be read (a broken snapshot costs time, never state).
    async fn read(&self, name: &str) -> Result<Option<Option<Vec<u8>>>, LogError> {
        let mut object = match self.store.get(name).await {
            Ok(object) => object,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::Unavailable(format!("reading snapshot: {e}"))),
        };
        let mut bytes = Vec::new();
        if let Err(e) = object.read_to_end(&mut bytes).await {
            tracing::warn!(error = %e, object = name, "snapshot unreadable; replaying the whole log");
            return Ok(Some(None));
        }
        Ok(Some(Some(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11 item 5: every node has its own snapshot object, distinct from the legacy one.
    #[test]
    fn each_node_has_its_own_snapshot_object() {
        assert_eq!(SnapshotStore::object_name("a"), "state.a");
        assert_eq!(SnapshotStore::object_name("gt.lo"), "state.gt%2Elo");
        assert_ne!(
            SnapshotStore::object_name("a"),
            SnapshotStore::object_name("b")
        );
        assert_ne!(SnapshotStore::object_name(""), LEGACY_OBJECT);
        // Escaping keeps a node named like another node's object apart from it.
        assert_ne!(
            SnapshotStore::object_name("a.b"),
            SnapshotStore::object_name("a_b")
        );
    }

    #[test]
    fn a_snapshot_belongs_only_to_the_node_of_every_subject_it_folded() {
        let seqs = |subjects: &[&str]| -> BTreeMap<String, u64> {
            subjects.iter().map(|s| (s.to_string(), 1)).collect()
        };
        let own = Snapshot::new(
            2,
            seqs(&["mkube.a.pods.default.web", "mkube.a.consistency"]),
            (),
        );
        assert!(own.belongs_to("a"));
        assert!(!own.belongs_to("b"));
        let mixed = Snapshot::new(3, seqs(&["mkube.a.pods.default.web", "mkube.b.ipam.t"]), ());
        assert!(!mixed.belongs_to("a") && !mixed.belongs_to("b"));
        // Nothing folded yet: nobody's state to adopt.
        assert!(Snapshot::new(0, BTreeMap::new(), ()).belongs_to("b"));
        let escaped = Snapshot::new(1, seqs(&["mkube.gt%2Elo.pods.default.web"]), ());
        assert!(escaped.belongs_to("gt.lo"));
    }
}
