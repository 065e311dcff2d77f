//! One operation's view of microdns (R7 done per operation, controller.md L-5): the record
//! list of each (endpoint, zone) read once and reused, dropped after writes to that zone, and
//! the endpoints that did not answer, skipped without any HTTP for the rest of the pass.
//! Each pass owns its context, so concurrent passes cannot switch each other off.
//!
//! Only transport failures (no answer) mark an endpoint failed: an endpoint that answers
//! with an error status is alive, and a 404 on a wiped zone must not hide the endpoint.

use std::collections::{HashMap, HashSet};

use super::client::MicrodnsClient;
use super::error::MicrodnsError;
use super::health::HealthGate;
use super::types::Record;

pub struct PassContext {
    client: MicrodnsClient,
    lists: HashMap<(String, String), Vec<Record>>,
    failed: HashSet<String>,
}

impl PassContext {
    pub fn new(client: MicrodnsClient) -> Self {
        Self {
            client,
            lists: HashMap::new(),
            failed: HashSet::new(),
        }
    }

    pub fn client(&self) -> &MicrodnsClient {
        &self.client
    }

    /// Whether `endpoint` failed earlier in this pass.
    pub fn is_failed(&self, endpoint: &str) -> bool {
        self.failed.contains(endpoint)
    }

    /// The endpoints that failed in this pass, sorted.
    pub fn failed_endpoints(&self) -> Vec<String> {
        let mut v: Vec<String> = self.failed.iter().cloned().collect();
        v.sort();
        v
    }

    /// Asks the health gate first; an unhealthy endpoint counts as failed for this pass.
    pub async fn check_health(&mut self, gate: &mut HealthGate, endpoint: &str) -> bool {
        if self.is_failed(endpoint) {
            return false;
        }
        let ok = gate.is_healthy(&self.client, endpoint).await;
        if !ok {
            self.failed.insert(endpoint.to_string());
        }
        ok
    }

    /// R2 through the pass: skipped when the endpoint failed, marks it failed on no answer.
    pub async fn ensure_zone(
        &mut self,
        endpoint: &str,
        zone: &str,
    ) -> Result<String, MicrodnsError> {
        self.gate(endpoint)?;
        let r = self.client.ensure_zone(endpoint, zone).await;
        self.note(endpoint, r)
    }

    /// The zone's records, read (paged) at most once per pass until a write drops them.
    pub async fn records(
        &mut self,
        endpoint: &str,
        zone_id: &str,
    ) -> Result<&[Record], MicrodnsError> {
        self.gate(endpoint)?;
        let key = (endpoint.to_string(), zone_id.to_string());
        if !self.lists.contains_key(&key) {
            let r = self.client.list_records(endpoint, zone_id).await;
            let list = self.note(endpoint, r)?;
            self.lists.insert(key.clone(), list);
        }
        Ok(self.lists[&key].as_slice())
    }

    /// Forgets the cached list of one zone (after a write made elsewhere).
    pub fn forget(&mut self, endpoint: &str, zone_id: &str) {
        self.lists
            .remove(&(endpoint.to_string(), zone_id.to_string()));
    }

    /// R4: an A record `name` → `ip` unless one exists. `Ok(true)` when a record was created.
    /// A failed list (with an answer) still goes on to the POST; the server dedups (§1.8).
    pub async fn register_host(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        ip: &str,
        ttl: u32,
    ) -> Result<bool, MicrodnsError> {
        match self.records(endpoint, zone_id).await {
            Ok(list) => {
                if list
                    .iter()
                    .any(|r| r.is_a_named(name) && r.value_str() == Some(ip))
                {
                    return Ok(false);
                }
            }
            Err(e) if e.is_transport() => return Err(e),
            Err(e) => tracing::warn!("{e}; registering {name} anyway"),
        }
        let r = self
            .client
            .create_a_record(endpoint, zone_id, name, ip, ttl)
            .await;
        let (_, created) = self.note(endpoint, r)?;
        self.forget(endpoint, zone_id);
        Ok(created)
    }

    /// R5: deletes every A record `name` whose value is not `current_ip`. Failed deletes are
    /// logged and skipped; only a failed list fails. Returns how many were deleted.
    pub async fn clean_stale(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        current_ip: &str,
    ) -> Result<usize, MicrodnsError> {
        let ids = self
            .matching(endpoint, zone_id, |r| {
                r.is_a_named(name) && r.value_str() != Some(current_ip)
            })
            .await?;
        let mut deleted = 0;
        for id in ids {
            match self.delete(endpoint, zone_id, &id).await {
                Ok(()) => deleted += 1,
                Err(e) => tracing::warn!("stale record {name} ({id}): {e}"),
            }
        }
        if deleted > 0 {
            self.forget(endpoint, zone_id);
        }
        Ok(deleted)
    }

    /// R6: deletes every A record `name`, whatever its value; stops at the first failure.
    pub async fn deregister_host(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
    ) -> Result<usize, MicrodnsError> {
        let ids = self
            .matching(endpoint, zone_id, |r| r.is_a_named(name))
            .await?;
        self.delete_all(endpoint, zone_id, ids).await
    }

    /// R6: deletes the A records `name` → `ip` only, so round-robin peers survive.
    pub async fn deregister_host_by_ip(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        ip: &str,
    ) -> Result<usize, MicrodnsError> {
        let ids = self
            .matching(endpoint, zone_id, |r| {
                r.is_a_named(name) && r.value_str() == Some(ip)
            })
            .await?;
        self.delete_all(endpoint, zone_id, ids).await
    }

    async fn matching(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        pick: impl Fn(&Record) -> bool,
    ) -> Result<Vec<String>, MicrodnsError> {
        let list = self.records(endpoint, zone_id).await?;
        Ok(list
            .iter()
            .filter(|r| pick(r))
            .map(|r| r.id.clone())
            .collect())
    }

    async fn delete_all(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        ids: Vec<String>,
    ) -> Result<usize, MicrodnsError> {
        let mut deleted = 0;
        let mut result = Ok(());
        for id in ids {
            if let Err(e) = self.delete(endpoint, zone_id, &id).await {
                result = Err(e);
                break;
            }
            deleted += 1;
        }
        if deleted > 0 {
            self.forget(endpoint, zone_id);
        }
        result.map(|()| deleted)
    }

    async fn delete(
        &mut self,
        endpoint: &str,
        zone_id: &str,
        id: &str,
    ) -> Result<(), MicrodnsError> {
        self.gate(endpoint)?;
        let r = self.client.delete_record(endpoint, zone_id, id).await;
        self.note(endpoint, r)
    }

    fn gate(&self, endpoint: &str) -> Result<(), MicrodnsError> {
        if self.is_failed(endpoint) {
            return Err(MicrodnsError::Skipped {
                endpoint: endpoint.to_string(),
            });
        }
        Ok(())
    }

    fn note<T>(&mut self, endpoint: &str, r: Result<T, MicrodnsError>) -> Result<T, MicrodnsError> {
        if let Err(MicrodnsError::Transport { .. }) = &r {
            self.failed.insert(endpoint.to_string());
        }
        r
    }
}
