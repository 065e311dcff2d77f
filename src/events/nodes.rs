//! The fleet's node book (issue 16): a JetStream key-value bucket `<stream>_NODES` beside the
//! event stream, one key per controller, holding that controller's Kubernetes `Node` as JSON.
//! A heartbeat is an observation, not a fact (DESIGN "Facts and observations"), so it goes
//! here and never into the event log: a quiet site still appends no event. Each controller
//! writes only its own key and reads everyone's; the bucket has the stream's replicas, so on a
//! cluster it is replicated like the log.

use super::log::{EventLog, LogError};
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::TryStreamExt;
use std::time::Duration;

/// Bounds every call: a bucket read can stall while the cluster elects a leader.
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct NodeBook {
    store: kv::Store,
}

impl NodeBook {
    pub fn bucket_name(stream: &str) -> String {
        format!("{stream}_NODES")
    }

    /// The key of a node: its name with bytes outside `[A-Za-z0-9_-]` escaped as `=XX`.
    pub fn key(node: &str) -> String {
        super::subject::escape_token(node).replace('%', "=")
    }

    /// Opens the bucket, creating it (file storage, one value per key) when it is missing.
    pub async fn open(log: &EventLog) -> Result<NodeBook, LogError> {
        let settings = log.settings();
        let bucket = Self::bucket_name(&settings.stream);
        let js = log.jetstream();
        let open = async {
            match js.get_key_value(&bucket).await {
                Ok(store) => Ok(store),
                Err(_) => {
                    js.create_key_value(kv::Config {
                        bucket: bucket.clone(),
                        description: "mkube nodes: each controller's Node, written by itself"
                            .into(),
                        history: 1,
                        num_replicas: log.replicas(),
                        ..Default::default()
                    })
                    .await
                }
            }
        };
        let store = tokio::time::timeout(TIMEOUT, open)
            .await
            .map_err(|_| LogError::Unavailable(format!("node bucket {bucket}: timed out")))?
            .map_err(|e| LogError::Unavailable(format!("node bucket {bucket}: {e}")))?;
        Ok(NodeBook { store })
    }

    /// Writes this node's entry.
    pub async fn put(&self, node: &str, value: Vec<u8>) -> Result<(), LogError> {
        tokio::time::timeout(TIMEOUT, self.store.put(Self::key(node), Bytes::from(value)))
            .await
            .map_err(|_| LogError::Unavailable("writing the node entry timed out".into()))?
            .map_err(|e| LogError::Unavailable(format!("writing the node entry: {e}")))?;
        Ok(())
    }

    /// Removes a node's entry (`kubectl delete node` of a controller that is gone).
    pub async fn remove(&self, node: &str) -> Result<(), LogError> {
        tokio::time::timeout(TIMEOUT, self.store.delete(Self::key(node)))
            .await
            .map_err(|_| LogError::Unavailable("removing the node entry timed out".into()))?
            .map_err(|e| LogError::Unavailable(format!("removing the node entry: {e}")))
    }

    /// Every node's entry (key, value), in key order.
    pub async fn all(&self) -> Result<Vec<(String, Bytes)>, LogError> {
        tokio::time::timeout(TIMEOUT, self.read_all())
            .await
            .map_err(|_| LogError::Unavailable("reading the node bucket timed out".into()))?
    }

    async fn read_all(&self) -> Result<Vec<(String, Bytes)>, LogError> {
        let failed = |e: &dyn std::fmt::Display| {
            LogError::Unavailable(format!("reading the node bucket: {e}"))
        };
        let mut keys: Vec<String> = self
            .store
            .keys()
            .await
            .map_err(|e| failed(&e))?
            .try_collect()
            .await
            .map_err(|e| failed(&e))?;
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.store.get(key.as_str()).await.map_err(|e| failed(&e))? {
                out.push((key, value));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_kv_keys() {
        assert_eq!(NodeBook::key("rose1"), "rose1");
        assert_eq!(NodeBook::key("rack.a/1"), "rack=2Ea=2F1");
        assert_eq!(NodeBook::bucket_name("MKUBE"), "MKUBE_NODES");
    }
}
