//! Making sure the stream holds a node's subjects. Several nodes may share one stream (issue 11
//! item 5): a node creates it over `mkube.<node>.>`, or adds that subject to an existing one,
//! keeping every other subject and setting. JetStream has no compare-and-set on stream
//! updates, so two nodes adding at once can lose one's subject: each update is read back, and
//! an append that finds no stream ensures again, so the loser heals on its next write.

use super::log::{EventLog, LogError};
use super::subject::{self, SubjectsMerge};
use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
use async_nats::jetstream::{ErrorCode, stream};
use std::time::Duration;

/// How long the de-duplication window of the stream is: a retry inside it is stored once.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Rounds of look, merge, update before giving up on a stream other nodes keep changing.
const ROUNDS: usize = 5;

impl EventLog {
    /// Makes sure the stream exists and holds this node's subjects.
    pub async fn ensure_stream(&self) -> Result<(), LogError> {
        self.ensure_stream_for(&self.settings().node).await
    }

    /// Creates the stream over `mkube.<node>.>` (file storage, the de-duplication window,
    /// direct gets), or adds that subject to the existing stream. A stream that cannot take it
    /// is `LogError::Other`, naming the conflict; the server not answering is `Unavailable`.
    pub async fn ensure_stream_for(&self, node: &str) -> Result<(), LogError> {
        // The client connects in the background: until it has, the server's INFO (which says
        // whether it is part of a cluster, and so the replicas) is not known yet.
        if !self.connected_within(Duration::from_secs(2)).await {
            return Err(LogError::Unavailable("not connected to NATS".to_string()));
        }
        let s = self.settings();
        let js = self.jetstream();
        let wanted = subject::stream_filter(node);
        let config = stream::Config {
            name: s.stream.clone(),
            subjects: vec![wanted.clone()],
            storage: stream::StorageType::File,
            num_replicas: self.replicas(),
            duplicate_window: DUPLICATE_WINDOW,
            allow_direct: true,
            ..Default::default()
        };
        let failed = |doing: &str, e: CreateStreamError| match e.kind() {
            CreateStreamErrorKind::JetStream(refusal) => refused(&s.stream, &wanted, &refusal),
            _ => LogError::Unavailable(format!("{doing} stream {}: {e}", s.stream)),
        };
        for _ in 0..ROUNDS {
            let stream = match js.get_or_create_stream(config.clone()).await {
                Ok(stream) => stream,
                // Another node created it between our look and our create: look again.
                Err(e) if name_taken(&e) => continue,
                Err(e) => return Err(failed("ensuring", e)),
            };
            let mut current = stream.cached_info().config.clone();
            if current.num_replicas < config.num_replicas {
                // Grown from one server into a cluster: the log gets the cluster's replicas.
                tracing::info!(stream = %s.stream, from = current.num_replicas, to = config.num_replicas, "raising the event stream's replicas");
                current.num_replicas = config.num_replicas;
                js.update_stream(&current)
                    .await
                    .map_err(|e| failed("updating", e))?;
                continue;
            }
            match subject::merge_subjects(&current.subjects, &wanted) {
                SubjectsMerge::Covered => return Ok(()),
                SubjectsMerge::Conflict(other) => {
                    let why = format!("its subject {other} overlaps it");
                    return Err(refused(&s.stream, &wanted, &why));
                }
                SubjectsMerge::Update(subjects) => {
                    tracing::info!(stream = %s.stream, subject = %wanted, "adding this node's subject to the event stream");
                    current.subjects = subjects;
                    js.update_stream(&current)
                        .await
                        .map_err(|e| failed("updating", e))?;
                    // Read back on the next round: another node may have updated it meanwhile.
                }
            }
        }
        Err(LogError::Unavailable(format!(
            "stream {}: its subjects keep changing; {wanted} not settled",
            s.stream
        )))
    }
}

fn name_taken(e: &CreateStreamError) -> bool {
    matches!(e.kind(), CreateStreamErrorKind::JetStream(err) if err.error_code() == ErrorCode::STREAM_NAME_EXIST)
}

fn refused(stream: &str, wanted: &str, why: &dyn std::fmt::Display) -> LogError {
    LogError::Other(format!(
        "stream {stream} cannot hold {wanted}: {why}; give this node a stream of its own (nats.stream) or fix the stream's subjects"
    ))
}
