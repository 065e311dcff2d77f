//! The event log on JetStream: one stream (`MKUBE_EVENTS` by default), file storage, holding
//! `mkube.<node>.>` of every node that writes to it. Appends are durable (the server's ack is
//! awaited), carry a `Nats-Msg-Id` so a retried append is stored once, and the expected last
//! sequence of their subject so two writers cannot both win.
//!
//! Several nodes may share one stream (issue 11 item 5): a node's handle reads only its own
//! subjects, so it never folds, serves or follows another node's events. Sequences stay the
//! stream's: a node's records are monotonic, with gaps where other nodes wrote.

use super::record::Record;
use super::subject;
use crate::metrics::Metrics;
use async_nats::connection::State;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, ConnectOptions, HeaderMap};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one append waits for the server's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// NATS is not reachable: the append was not sent, nothing was stored.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// The append was sent but never acknowledged (the server or the connection went away
    /// meanwhile): it may or may not be stored. Not applied here; a stored one comes back to
    /// the writer as a conflict on its next append, and to every reader on replay.
    #[error("event log did not acknowledge the append (it may be stored): {0}")]
    Unknown(String),
    /// Another writer appended to this subject since `expected`; catch up and decide again.
    #[error("conflicting append on {subject}: expected last subject sequence {expected}")]
    Conflict { subject: String, expected: u64 },
    #[error("event log refused the append: {0}")]
    Rejected(String),
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    #[error("event log error: {0}")]
    Other(String),
}

impl From<LogError> for AppendError {
    /// The log's own message, without a second "event log unavailable:".
    fn from(e: LogError) -> Self {
        match e {
            LogError::Unavailable(m) => AppendError::Unavailable(m),
            LogError::Other(m) => AppendError::Unavailable(m),
        }
    }
}

/// Where the log lives and how it is shaped.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub url: String,
    pub stream: String,
    /// The node this handle writes for and reads: only `mkube.<node>.>` of the stream. Empty
    /// on a reader (`connect_reader`) for the whole stream (the log tools without `--node`).
    pub node: String,
    /// Stream and bucket replicas; 0 = 3 on a cluster, 1 on one server ([`EventLog::replicas`]).
    pub replicas: usize,
}

/// The outcome of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    /// The server had this message id already: a retry, stored once.
    pub duplicate: bool,
}

#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    js: jetstream::Context,
    settings: LogSettings,
    metrics: Metrics,
    /// Writers create the stream (and re-create it after a reconnect); readers never do.
    writer: bool,
    /// What every read is filtered to: the node's subjects, or `None` for the whole stream.
    filter: Option<String>,
}

impl EventLog {
    /// Connects (retrying in the background until the server answers) and keeps reconnecting
    /// with back-off forever. After every reconnect the stream is ensured again, because a
    /// restarted server may have lost it.
    pub async fn connect(settings: LogSettings, metrics: Metrics) -> Result<EventLog, LogError> {
        Self::open(settings, metrics, true).await
    }

    /// Connects for reading only (`mkube replay`, `events`): never creates a stream, so a
    /// mistyped stream name is an error rather than a new, empty stream.
    pub async fn connect_reader(
        settings: LogSettings,
        metrics: Metrics,
    ) -> Result<EventLog, LogError> {
        Self::open(settings, metrics, false).await
    }

    async fn open(
        settings: LogSettings,
        metrics: Metrics,
        writer: bool,
    ) -> Result<EventLog, LogError> {
        let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
        let client = ConnectOptions::new()
            .name(format!("mkube-{}", settings.node))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .reconnect_delay_callback(|attempts| {
                // First try at once, then 100 ms doubling to 5 s: fast after a blip, gentle
                // during an outage.
                match attempts {
                    0 | 1 => Duration::ZERO,
                    n => Duration::from_millis(100 << (n - 2).min(6)).min(Duration::from_secs(5)),
                }
            })
            .event_callback(move |event| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.send(event);
                }
            })
            .connect(crate::resolve::nats_urls(&settings.url).await.as_slice())
            .await
            .map_err(|e| LogError::Other(format!("connecting to {}: {e}", settings.url)))?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ACK_TIMEOUT);
        // A writer always reads only what it writes, whatever its node is called.
        let whole_stream = !writer && settings.node.is_empty();
        let filter = (!whole_stream).then(|| subject::stream_filter(&settings.node));
        let log = EventLog {
            inner: Arc::new(Inner {
                client,
                js,
                settings,
                metrics,
                writer,
                filter,
            }),
        };
        let watcher = log.clone();
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                watcher.on_connection_event(event).await;
            }
        });
        Ok(log)
    }

    async fn on_connection_event(&self, event: async_nats::Event) {
        match event {
            async_nats::Event::Connected => {
                self.inner.metrics.set_nats_connected(true);
                tracing::info!(url = %self.inner.settings.url, "NATS connected");
                if !self.inner.writer {
                    return;
                }
                if let Err(e) = self.ensure_stream().await {
                    tracing::warn!(error = %e, "re-creating the event stream after reconnect failed");
                }
            }
            async_nats::Event::Disconnected => {
                self.inner.metrics.set_nats_connected(false);
                tracing::warn!(url = %self.inner.settings.url, "NATS disconnected; writes refused until it is back");
            }
            other => tracing::debug!(event = %other, "NATS connection event"),
        }
    }

    /// The replicas of the stream and buckets: the configured number, or, when none is
    /// configured (0), 3 when the server is part of a cluster and 1 on a single server
    /// (issue 16). The cluster's name is in the server's first INFO; its other servers' URLs
    /// arrive later, so they cannot tell the size: a cluster of two must set `nats.replicas`.
    pub fn replicas(&self) -> usize {
        let configured = self.inner.settings.replicas;
        if configured > 0 {
            return configured;
        }
        let info = self.inner.client.server_info();
        default_replicas(info.cluster.as_deref(), &info.server_name)
    }

    /// A reader of `node`'s subjects on this connection (a fleet view of another node): it
    /// never writes and never creates the stream.
    pub fn reader_of(&self, node: &str) -> EventLog {
        let inner = &self.inner;
        EventLog {
            inner: Arc::new(Inner {
                client: inner.client.clone(),
                js: inner.js.clone(),
                settings: LogSettings {
                    node: node.to_string(),
                    ..inner.settings.clone()
                },
                metrics: inner.metrics.clone(),
                writer: false,
                filter: Some(subject::stream_filter(node)),
            }),
        }
    }

    pub fn settings(&self) -> &LogSettings {
        &self.inner.settings
    }

    pub fn node(&self) -> &str {
        &self.inner.settings.node
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.inner.js
    }

    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == State::Connected
    }

    /// Waits up to `within` for the client, which connects in the background, to be connected.
    pub async fn connected_within(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.is_connected() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Waits until the server answers and the stream holds this node's subjects, retrying
    /// with back-off. A stream that cannot take them (a conflict only an operator can settle)
    /// is logged as an error on every try, naming the conflict.
    pub async fn wait_ready(&self) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.ensure_stream().await {
                Ok(()) => return self.wait_for_leader().await,
                Err(e) => {
                    let retry_in_ms = delay.as_millis() as u64;
                    match e {
                        LogError::Unavailable(_) => {
                            tracing::warn!(error = %e, retry_in_ms, "event log not ready")
                        }
                        LogError::Other(_) => {
                            tracing::error!(error = %e, retry_in_ms, "event log refused")
                        }
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// On a cluster, waits (up to 10 s) until the stream has a leader: a stream just created
    /// has none for a moment, and appends before it would be refused. Single servers report
    /// no cluster and pass at once.
    async fn wait_for_leader(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = match self.jetstream().get_stream(&self.settings().stream).await {
                Ok(mut stream) => stream.info().await.ok().map(|i| i.cluster.clone()),
                Err(_) => None,
            };
            let led = matches!(&info, Some(None)) // no cluster: a single server
                || matches!(&info, Some(Some(c)) if c.leader.is_some());
            if led || Instant::now() >= deadline {
                if !led {
                    tracing::warn!(
                        "the event stream has no leader yet; writes are refused until it has"
                    );
                }
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Appends one encoded envelope. `expected` is the last sequence this writer saw on the
    /// subject (0 = none). `msg_id` must be the same for every retry of the same append.
    pub async fn append(
        &self,
        subject: &str,
        msg_id: &str,
        expected: u64,
        data: Bytes,
    ) -> Result<Appended, AppendError> {
        if !self.is_connected() {
            return Err(AppendError::Unavailable("not connected to NATS".into()));
        }
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", msg_id);
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                expected.to_string().as_str(),
            );
            let result = async {
                self.inner
                    .js
                    .publish_with_headers(subject.to_string(), headers, data.clone())
                    .await?
                    .await
            }
            .await;
            match result {
                Ok(ack) => {
                    self.inner.metrics.observe_append(started.elapsed());
                    return Ok(Appended {
                        seq: ack.sequence,
                        duplicate: ack.duplicate,
                    });
                }
                Err(e) => match e.kind() {
                    PublishErrorKind::WrongLastSequence => {
                        // The server checks the expected sequence before de-duplicating, so a
                        // retry whose first try was stored lands here: our id on the subject's
                        // last record means it is ours, stored once.
                        if let Some(seq) = self.last_with_id(subject, msg_id).await {
                            self.inner.metrics.observe_append(started.elapsed());
                            return Ok(Appended {
                                seq,
                                duplicate: true,
                            });
                        }
                        return Err(AppendError::Conflict {
                            subject: subject.to_string(),
                            expected,
                        });
                    }
                    // Same message id: if the first try was stored, the retry is a duplicate.
                    PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe
                        if attempt < 3 && self.is_connected() =>
                    {
                        tracing::warn!(subject, attempt, error = %e, "append not acknowledged; retrying with the same message id");
                    }
                    PublishErrorKind::StreamNotFound if attempt < 3 => {
                        self.ensure_stream().await.map_err(AppendError::from)?;
                    }
                    PublishErrorKind::StreamNotFound => {
                        return Err(AppendError::Unavailable(e.to_string()));
                    }
                    PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe => {
                        return Err(AppendError::Unknown(e.to_string()));
                    }
                    _ => return Err(AppendError::Rejected(e.to_string())),
                },
            }
        }
    }

    /// The sequence of the subject's last record if it carries `msg_id`.
    async fn last_with_id(&self, subject: &str, msg_id: &str) -> Option<u64> {
        let stream = self.stream().await.ok()?;
        let last = stream
            .raw_message_builder()
            .last_by_subject(subject)
            .send()
            .await
            .ok()?;
        let id = last.headers.get("Nats-Msg-Id")?;
        (id.as_str() == msg_id).then_some(last.sequence)
    }

    /// The sequence of the last record this handle reads right now: the last of its node's
    /// subjects, or of the whole stream for a whole-stream reader (0 when there is none).
    pub async fn last_sequence(&self) -> Result<u64, LogError> {
        let Some(filter) = &self.inner.filter else {
            return self.stream_last_sequence().await;
        };
        let stream = self.stream().await?;
        match stream
            .raw_message_builder()
            .last_by_subject(filter.as_str())
            .send()
            .await
        {
            Ok(msg) => Ok(msg.sequence),
            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(LogError::Unavailable(format!("reading {filter}: {e}"))),
        }
    }

    /// The stream's last sequence right now, whoever wrote it (0 when empty).
    pub async fn stream_last_sequence(&self) -> Result<u64, LogError> {
        let stream = self.stream().await?;
        let info = stream
            .get_info()
            .await
            .map_err(|e| LogError::Unavailable(format!("stream info: {e}")))?;
        Ok(info.state.last_sequence)
    }

    /// The stream's first retained sequence (what a reader can still start from; 1 on a
    /// stream that never dropped anything).
    pub async fn first_sequence(&self) -> Result<u64, LogError> {
        let stream = self.stream().await?;
        let info = stream
            .get_info()
            .await
            .map_err(|e| LogError::Unavailable(format!("stream info: {e}")))?;
        Ok(info.state.first_sequence.max(1))
    }

    /// The sequence of the last record on exactly `subject`, or `None` when it has none.
    /// Asked of the stream's leader, never a replica: on a cluster a replica may lag (one
    /// that just came back), and a stale answer would cost a conflict or a missed record.
    pub async fn last_sequence_of(&self, subject: &str) -> Result<Option<u64>, LogError> {
        // Asked on API requests (resource versions): without a connection the request would
        // wait out the JetStream timeout (5 s, found by the soak as 5 s ConfigMap PUTs).
        if !self.is_connected() {
            return Err(LogError::Unavailable("not connected to NATS".into()));
        }
        let stream = self.stream().await?;
        match stream
            .raw_message_builder()
            .last_by_subject(subject)
            .send()
            .await
        {
            Ok(msg) => Ok(Some(msg.sequence)),
            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(LogError::Unavailable(format!("reading {subject}: {e}"))),
        }
    }

    async fn stream(&self) -> Result<stream::Stream, LogError> {
        let name = &self.inner.settings.stream;
        self.inner
            .js
            .get_stream(name)
            .await
            .map_err(|e| LogError::Unavailable(format!("stream {name}: {e}")))
    }

    /// Reads this handle's records with `from <= seq <= until` in order (an `until` past the
    /// end reads to its last sequence as of this call), then ends.
    pub async fn read(
        &self,
        from: u64,
        until: u64,
    ) -> Result<impl Stream<Item = Result<Record, LogError>> + use<>, LogError> {
        let from = from.max(1);
        let until = until.min(self.last_sequence().await?);
        let messages = if from > until {
            None
        } else {
            Some(self.ordered_messages(from).await?)
        };
        Ok(records_of(messages, until))
    }

    /// Follows this handle's records from `from` forever, in order, without repeats or missed
    /// records (a node's sequences have gaps where other nodes wrote). The reader
    /// survives NATS restarts: when it fails, or sits idle while the stream has moved past it
    /// (a consumer lost with the server), it is re-created from the next sequence.
    pub fn follow(&self, from: u64) -> impl Stream<Item = Record> + use<> {
        let state = Follower {
            log: self.clone(),
            next: from.max(1),
            messages: None,
            retry: Duration::from_millis(100),
        };
        futures::stream::unfold(state, |mut f| async move {
            let record = f.next_record().await;
            Some((record, f))
        })
    }

    async fn ordered_messages(&self, from: u64) -> Result<consumer::pull::Ordered, LogError> {
        let stream = self.stream().await?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                filter_subject: self.inner.filter.clone().unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map_err(|e| LogError::Unavailable(format!("creating reader: {e}")))?;
        consumer
            .messages()
            .await
            .map_err(|e| LogError::Unavailable(format!("reading: {e}")))
    }

    /// Records on exactly one subject after sequence `after` (to catch up after a conflict).
    pub async fn read_subject_after(
        &self,
        subject: &str,
        after: u64,
    ) -> Result<Vec<Record>, LogError> {
        let stream = self.stream().await?;
        let mut out = Vec::new();
        let mut next = after + 1;
        loop {
            // The leader's copy (see `last_sequence_of`).
            match stream
                .raw_message_builder()
                .next_by_subject(subject)
                .sequence(next)
                .send()
                .await
            {
                Ok(msg) => {
                    next = msg.sequence + 1;
                    out.push(Record {
                        seq: msg.sequence,
                        subject: msg.subject.to_string(),
                        stored: msg.time,
                        data: msg.payload,
                    });
                }
                Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                    return Ok(out);
                }
                Err(e) => return Err(LogError::Unavailable(format!("reading {subject}: {e}"))),
            }
        }
    }
}

struct Follower {
    log: EventLog,
    next: u64,
    messages: Option<consumer::pull::Ordered>,
    retry: Duration,
}

/// How long a bounded read waits for its next record before giving up.
const READ_IDLE: Duration = Duration::from_secs(10);

/// How long a follower waits for a message before checking whether its reader is stale.
const FOLLOW_IDLE: Duration = Duration::from_secs(2);

impl Follower {
    async fn next_record(&mut self) -> Record {
        loop {
            let Some(messages) = self.messages.as_mut() else {
                match self.log.ordered_messages(self.next).await {
                    Ok(m) => {
                        self.messages = Some(m);
                        self.retry = Duration::from_millis(100);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "follower cannot read yet");
                        tokio::time::sleep(self.retry).await;
                        self.retry = (self.retry * 2).min(Duration::from_secs(5));
                    }
                }
                continue;
            };
            match tokio::time::timeout(FOLLOW_IDLE, messages.next()).await {
                Ok(Some(Ok(msg))) => {
                    let Ok(info) = msg.info() else { continue };
                    let seq = info.stream_sequence;
                    if seq < self.next {
                        continue;
                    }
                    self.next = seq + 1;
                    return Record {
                        seq,
                        subject: msg.subject.to_string(),
                        stored: info.published,
                        data: msg.payload.clone(),
                    };
                }
                Ok(Some(Err(_))) | Ok(None) => self.messages = None,
                Err(_idle) => {
                    if self
                        .log
                        .last_sequence()
                        .await
                        .is_ok_and(|last| last >= self.next)
                    {
                        tracing::debug!(
                            next = self.next,
                            "follower stalled; re-creating its reader"
                        );
                        self.messages = None;
                    }
                }
            }
        }
    }
}

fn records_of(
    messages: Option<consumer::pull::Ordered>,
    until: u64,
) -> impl Stream<Item = Result<Record, LogError>> {
    futures::stream::unfold(messages, move |state| async move {
        let mut messages = state?;
        // A bounded read knows more records exist; a reader silent this long has lost its
        // consumer (e.g. across a NATS restart) and must fail rather than hang its caller.
        let next = match tokio::time::timeout(READ_IDLE, messages.next()).await {
            Ok(next) => next?,
            Err(_) => {
                let stalled = LogError::Unavailable(format!("log reader stalled before {until}"));
                return Some((Err(stalled), None));
            }
        };
        match next {
            Err(e) => Some((Err(LogError::Unavailable(e.to_string())), None)),
            Ok(msg) => {
                let info = match msg.info() {
                    Ok(info) => info,
                    Err(e) => {
                        return Some((Err(LogError::Other(format!("message info: {e}"))), None));
                    }
                };
                let seq = info.stream_sequence;
                if seq > until {
                    return None;
                }
                let record = Record {
                    seq,
                    subject: msg.subject.to_string(),
                    stored: info.published,
                    data: msg.payload.clone(),
                };
                // Done at `until` (the leader's last record of this reader's subjects), not
                // when the consumer reports nothing pending: on a cluster the consumer may sit
                // on a replica that is still catching up, whose "nothing pending" would end
                // the read early and silently.
                let next = if seq >= until { None } else { Some(messages) };
                Some((Ok(record), next))
            }
        }
    })
}

/// The replicas for a server whose INFO names `cluster` (if any) and is named `server_name`:
/// 3 in a cluster, 1 alone. A lone server that dials leaf-node remotes (a router's leaf in its
/// own JetStream domain) names itself as its cluster (seen with nats-server 2.15), yet refuses
/// more than one replica ("not supported in non-clustered mode"): a "cluster" named after the
/// server itself is that lone leaf.
fn default_replicas(cluster: Option<&str>, server_name: &str) -> usize {
    match cluster {
        Some(name) if name != server_name => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::default_replicas;

    #[test]
    fn three_replicas_in_a_cluster_one_on_a_lone_server_or_leaf() {
        assert_eq!(default_replicas(Some("mkube-test"), "n1"), 3);
        assert_eq!(default_replicas(None, "n1"), 1);
        // A leaf server with remotes and no cluster block reports its own name as its cluster.
        assert_eq!(default_replicas(Some("rack-a"), "rack-a"), 1);
    }
}
