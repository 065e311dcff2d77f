//! How an actor records a fact: append the event to the log, and only after the server's
//! acknowledgement apply it to the actor's state. Appending is a call, not an actor hop.

use crate::events::log::Appended;
use crate::events::{AppendError, Envelope, Event, EventLog, subject};
use actix::prelude::*;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// An actor's handle to the log plus the last sequence of each subject it writes (shared
/// copy-on-write with the readers of a published snapshot, `published.rs`).
pub struct Journal {
    log: EventLog,
    actor: &'static str,
    subject_seqs: Arc<HashMap<String, u64>>,
}

impl Journal {
    /// `all_seqs` is the replayed map of every subject; the journal keeps those under `areas`.
    pub fn new(
        log: EventLog,
        actor: &'static str,
        areas: &[&str],
        all_seqs: &BTreeMap<String, u64>,
    ) -> Self {
        let prefixes: Vec<String> = areas
            .iter()
            .map(|a| {
                format!(
                    "{}.{}.{a}",
                    subject::PREFIX,
                    subject::escape_token(log.node())
                )
            })
            .collect();
        let subject_seqs = all_seqs
            .iter()
            .filter(|(s, _)| {
                prefixes
                    .iter()
                    .any(|p| s.as_str() == p || s.starts_with(&format!("{p}.")))
            })
            .map(|(s, q)| (s.clone(), *q))
            .collect();
        Journal {
            log,
            actor,
            subject_seqs: Arc::new(subject_seqs),
        }
    }

    /// The sequences as a shared snapshot (no copy).
    pub fn shared_seqs(&self) -> Arc<HashMap<String, u64>> {
        self.subject_seqs.clone()
    }

    fn set_seq(&mut self, subject: String, seq: u64) {
        Arc::make_mut(&mut self.subject_seqs).insert(subject, seq);
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }
}

/// An actor whose state is the fold of its own events.
pub trait Persistent: Actor<Context = Context<Self>> {
    fn journal(&mut self) -> &mut Journal;
    /// The state fold; pure.
    fn apply(&mut self, event: &Event);
}

/// Appends `event` and applies it once acknowledged; resolves to the stream sequence.
/// On a conflict (another writer got there first) the subject is caught up — the other
/// writer's events are applied — and `Conflict` is returned so the caller can decide again.
/// Use inside an `AtomicResponse` so one actor's appends never interleave.
/// Records `events` one after another (each applied after its acknowledgement); stops at
/// the first refusal. Answers the last sequence (0 for no events).
pub fn commit_all<A: Persistent>(
    actor: &mut A,
    mut events: std::collections::VecDeque<Event>,
    correlation: String,
) -> ResponseActFuture<A, Result<u64, AppendError>> {
    let Some(first) = events.pop_front() else {
        return Box::pin(fut::ready(Ok(0)));
    };
    Box::pin(
        commit(actor, first, &correlation).then(move |r, act, _| match r {
            Ok(seq) if events.is_empty() => Box::pin(fut::ready(Ok(seq))),
            Ok(_) => commit_all(act, events, correlation),
            Err(e) => {
                Box::pin(fut::ready(Err(e))) as ResponseActFuture<A, Result<u64, AppendError>>
            }
        }),
    )
}

pub fn commit<A: Persistent>(
    actor: &mut A,
    event: Event,
    correlation: &str,
) -> ResponseActFuture<A, Result<u64, AppendError>> {
    let journal = actor.journal();
    let log = journal.log.clone();
    let subject = subject::for_event(log.node(), &event);
    let expected = journal.subject_seqs.get(&subject).copied().unwrap_or(0);
    let envelope = Envelope::new(log.node(), journal.actor, correlation, event);
    let data = Bytes::from(envelope.encode());
    let msg_id = uuid::Uuid::new_v4().to_string();
    let event = envelope.event;
    let fut = async move {
        let result = log.append(&subject, &msg_id, expected, data).await;
        let catch_up = match &result {
            Err(AppendError::Conflict { .. }) => {
                log.read_subject_after(&subject, expected).await.ok()
            }
            _ => None,
        };
        (subject, result, catch_up)
    };
    Box::pin(fut.into_actor(actor).map(move |(subject, result, catch_up), act, _| {
        match result {
            // Apply before recording the sequence: applying unpublishes the actor's snapshot
            // (if it has one), so the sequences are then updated without a copy.
            Ok(Appended { seq, .. }) => {
                act.apply(&event);
                act.journal().set_seq(subject, seq);
                Ok(seq)
            }
            Err(conflict @ AppendError::Conflict { .. }) => {
                for record in catch_up.unwrap_or_default() {
                    match record.decode() {
                        Ok(env) => act.apply(&env.event),
                        Err(e) => tracing::error!(error = %e, "skipping undecodable record while catching up"),
                    }
                    act.journal().set_seq(record.subject.clone(), record.seq);
                }
                Err(conflict)
            }
            Err(e) => Err(e),
        }
    }))
}

/// Doors for tests and benchmarks only: append any fact of an actor's areas as is, and copy
/// an actor's whole state. No room of the crate uses them — writes are requests the owning
/// actor decides (`Declare`, `Allocate`, `EnsureVeth`, …) and reads go through published
/// snapshots (`published.rs`) or named queries; `tests::no_room_uses_the_test_doors` keeps
/// it so.
#[doc(hidden)]
pub mod testing {
    use crate::events::AppendError;
    use actix::prelude::*;

    /// Append `event` through the actor that owns its area (a test setting up a story).
    #[derive(Debug)]
    pub struct Append<E> {
        pub event: E,
        pub correlation: String,
    }

    impl<E: 'static> Message for Append<E> {
        type Result = Result<u64, AppendError>;
    }

    /// A copy of an actor's state (a test inspecting a fold).
    #[derive(Debug, Default)]
    pub struct Inspect<S>(std::marker::PhantomData<S>);

    impl<S> Inspect<S> {
        pub fn new() -> Self {
            Inspect(std::marker::PhantomData)
        }
    }

    impl<S: 'static> Message for Inspect<S> {
        type Result = S;
    }
}

/// Implements `Persistent` (and the test doors `testing::Append<E>`, `testing::Inspect<S>`)
/// for an actor with fields `journal` and `state`, folding area event type `E` via
/// `state.apply`.
#[macro_export]
macro_rules! persistent_actor {
    ($actor:ty, $state:ty, $( $variant:ident($event:ty) => $apply:ident ),+ $(,)?) => {
        impl $crate::actors::journal::Persistent for $actor {
            fn journal(&mut self) -> &mut $crate::actors::journal::Journal {
                &mut self.journal
            }
            fn apply(&mut self, event: &$crate::events::Event) {
                match event {
                    $( $crate::events::Event::$variant(e) => self.state.$apply(e), )+
                    #[allow(unreachable_patterns)]
                    other => tracing::error!(area = %other.area(), "event of another area ignored"),
                }
            }
        }

        $(
        impl ::actix::Handler<$crate::actors::journal::testing::Append<$event>> for $actor {
            type Result = ::actix::AtomicResponse<Self, Result<u64, $crate::events::AppendError>>;
            fn handle(
                &mut self,
                msg: $crate::actors::journal::testing::Append<$event>,
                _: &mut Self::Context,
            ) -> Self::Result {
                ::actix::AtomicResponse::new($crate::actors::journal::commit(
                    self,
                    $crate::events::Event::$variant(msg.event),
                    &msg.correlation,
                ))
            }
        }
        )+

        impl ::actix::Handler<$crate::actors::journal::testing::Inspect<$state>> for $actor {
            type Result = ::actix::MessageResult<$crate::actors::journal::testing::Inspect<$state>>;
            fn handle(
                &mut self,
                _: $crate::actors::journal::testing::Inspect<$state>,
                _: &mut Self::Context,
            ) -> Self::Result {
                // Through a reference: `state` may be a `published::Shared` of the state.
                ::actix::MessageResult(<$state as ::std::clone::Clone>::clone(&self.state))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_room_uses_the_test_doors() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let doors = ["testing::Append", "testing::Inspect", "journal::testing"];
        let users: Vec<String> = files
            .iter()
            .filter(|f| !f.ends_with("actors/journal.rs"))
            .filter(|f| {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                doors.iter().any(|d| text.contains(d))
            })
            .map(|f| f.display().to_string())
            .collect();
        assert!(users.is_empty(), "test doors used by {users:?}");
    }
}
