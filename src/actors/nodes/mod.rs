//! This controller as a Kubernetes `Node`, and the fleet's nodes (issue 16).
//!
//! Every second the controller builds its node from what it already knows — the device's
//! `/system/resource` (read at connect, refreshed once a minute), the outcome of the last
//! container listing (the reconcile pass and the watchdog record it), and whether the log
//! answered. It posts the node to the node book (`events::nodes`) when its status changed or
//! every [`build::HEARTBEAT`], then reads the other controllers' entries. The API lists
//! [`NodeDirectory`]: its own node as it is now, the others as last posted, `Unknown` once
//! they stopped posting for [`build::GRACE`].

pub mod build;

use crate::actors::device::DeviceLink;
use crate::actors::observations::Observations;
use crate::events::EventLog;
use crate::events::nodes::NodeBook;
use crate::routeros::SystemResource;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Node;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often the node is built again from what is known.
const TICK: Duration = Duration::from_secs(1);
/// How long boot waits for the first read of the node book.
const FIRST_READ: Duration = Duration::from_secs(3);
/// How often the device's figures (free memory and disk) are read again.
const RESOURCE_EVERY: Duration = Duration::from_secs(60);

/// The nodes as the API shows them.
#[derive(Clone, Default)]
pub struct NodeDirectory {
    inner: Arc<Mutex<Directory>>,
}

#[derive(Default)]
struct Directory {
    own: Option<Node>,
    /// Other controllers' nodes by name, as last read from the book.
    others: BTreeMap<String, Node>,
}

impl NodeDirectory {
    /// Every node by name: this one as it is, the others as they read now.
    pub fn nodes(&self) -> Vec<Node> {
        let now = Utc::now();
        let d = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: BTreeMap<String, Node> = d
            .others
            .iter()
            .map(|(name, n)| (name.clone(), build::as_seen(n.clone(), now)))
            .collect();
        if let Some(own) = &d.own {
            let name = own.metadata.name.clone().unwrap_or_default();
            out.insert(name, own.clone());
        }
        out.into_values().collect()
    }

    pub fn node(&self, name: &str) -> Option<Node> {
        self.nodes()
            .into_iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
    }

    /// Drops another node until its controller posts it again (after its entry was removed).
    pub fn forget(&self, name: &str) {
        let mut d = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        d.others.remove(name);
    }

    fn own(&self) -> Option<Node> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .own
            .clone()
    }

    fn set_others(&self, others: BTreeMap<String, Node>) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .others = others;
    }

    fn set(&self, own: Node, others: Option<BTreeMap<String, Node>>) {
        let mut d = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        d.own = Some(own);
        if let Some(others) = others {
            d.others = others;
        }
    }
}

/// What the heartbeat needs.
pub struct Heartbeat {
    pub name: String,
    pub device_host: String,
    pub started: DateTime<Utc>,
    pub device: DeviceLink,
    pub observations: Observations,
    pub log: EventLog,
}

impl Heartbeat {
    /// Reads the other controllers' nodes once, so a controller that just started knows the
    /// fleet from its first request, then starts the heartbeat on the current actix system.
    pub async fn start(self) -> NodeDirectory {
        let directory = NodeDirectory::default();
        let first = tokio::time::timeout(FIRST_READ, async {
            let book = NodeBook::open(&self.log).await.ok()?;
            let others = self.read_others(&book).await;
            Some((book, others))
        })
        .await
        .ok()
        .flatten();
        let book = first.map(|(book, others)| {
            if let Some(others) = others {
                directory.set_others(others);
            }
            book
        });
        let out = directory.clone();
        actix::spawn(async move { self.run(directory, book).await });
        out
    }

    /// Every [`TICK`] the node is built again from what is known (no I/O); it is posted when
    /// its status word changed, [`build::HEARTBEAT`] passed since the last post, or the last
    /// post failed, and the other nodes are read after each post.
    async fn run(self, directory: NodeDirectory, mut book: Option<NodeBook>) {
        let mut resource: Option<(SystemResource, Instant)> = None;
        let mut last_post: Option<(Instant, &'static str)> = None;
        let mut log_error: Option<String> = None;
        loop {
            resource = self.refresh(resource).await;
            let contact = self.observations.snapshot().device.clone();
            let resource = resource.as_ref().map(|(r, _)| r);
            let previous = directory.own();
            let log = log_error.as_deref().map_or(Ok(()), Err);
            let node = build::own_node(
                &self.facts(resource, contact.as_ref(), log),
                previous.as_ref(),
            );
            let word = build::status_word(&node);
            // A post that failed is tried again on the next tick.
            let due = log_error.is_some()
                || last_post
                    .is_none_or(|(at, posted)| posted != word || at.elapsed() >= build::HEARTBEAT);
            if !due {
                directory.set(node, None);
                tokio::time::sleep(TICK).await;
                continue;
            }
            // Posted as it reads with the log answering: the write itself is that answer.
            let posting = build::own_node(
                &self.facts(resource, contact.as_ref(), Ok(())),
                previous.as_ref(),
            );
            let posted = self.post(&mut book, &posting).await;
            let others = match (&posted, &book) {
                (Ok(()), Some(b)) => self.read_others(b).await,
                _ => None,
            };
            let own = match &posted {
                Ok(()) => {
                    log_error = None;
                    posting
                }
                Err(e) => {
                    log_error = Some(e.clone());
                    build::own_node(
                        &self.facts(resource, contact.as_ref(), Err(e)),
                        previous.as_ref(),
                    )
                }
            };
            last_post = Some((Instant::now(), build::status_word(&own)));
            directory.set(own, others);
            tokio::time::sleep(TICK).await;
        }
    }

    fn facts<'a>(
        &'a self,
        resource: Option<&'a SystemResource>,
        device: Option<&'a crate::actors::observations::DeviceContact>,
        log: Result<(), &'a str>,
    ) -> build::Facts<'a> {
        build::Facts {
            name: &self.name,
            resource,
            device_host: &self.device_host,
            device,
            log,
            started: self.started,
            now: Utc::now(),
        }
    }

    /// The device's figures: taken from the client's connect, then read again once a minute
    /// (a failed read keeps the last ones). Never connects: the engine's link does that.
    async fn refresh(
        &self,
        last: Option<(SystemResource, Instant)>,
    ) -> Option<(SystemResource, Instant)> {
        let client = self.device.connected().await?;
        match last {
            None => Some((client.system_resource().clone(), Instant::now())),
            Some((r, at)) if at.elapsed() < RESOURCE_EVERY => Some((r, at)),
            Some((r, at)) => match client.read_system_resource().await {
                Ok(fresh) => Some((fresh, Instant::now())),
                Err(e) => {
                    tracing::debug!(error = %e, "node: /system/resource not read");
                    Some((r, at))
                }
            },
        }
    }

    async fn post(&self, book: &mut Option<NodeBook>, node: &Node) -> Result<(), String> {
        if book.is_none() {
            *book = Some(NodeBook::open(&self.log).await.map_err(|e| e.to_string())?);
        }
        let bytes = serde_json::to_vec(node).map_err(|e| e.to_string())?;
        match book.as_ref() {
            Some(b) => b.put(&self.name, bytes).await.map_err(|e| {
                tracing::debug!(error = %e, "node: heartbeat not posted");
                e.to_string()
            }),
            None => Err("node book not open".into()),
        }
    }

    /// The other controllers' nodes; `None` when the book could not be read (the last ones
    /// stay, and age into `Unknown`).
    async fn read_others(&self, book: &NodeBook) -> Option<BTreeMap<String, Node>> {
        let own_key = NodeBook::key(&self.name);
        let entries = book.all().await.ok()?;
        let mut out = BTreeMap::new();
        for (key, value) in entries {
            if key == own_key {
                continue;
            }
            match serde_json::from_slice::<Node>(&value) {
                Ok(n) => {
                    let name = n.metadata.name.clone().unwrap_or(key);
                    out.insert(name, n);
                }
                Err(e) => tracing::warn!(%key, error = %e, "node book: unreadable entry skipped"),
            }
        }
        Some(out)
    }
}

/// The host of the device's REST URL, without IPv6 brackets.
pub fn device_host(rest_url: &str) -> String {
    reqwest::Url::parse(rest_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        .unwrap_or_default()
}
