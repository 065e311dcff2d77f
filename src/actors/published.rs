//! Folds that API handlers read without copying them and, mostly, without a mailbox round
//! trip. An actor keeps its state in a `Shared` (copy-on-write `Arc`): a reader gets an `Arc`
//! of it, and the actor copies the state only when it changes it while a reader still holds
//! the old one.
//!
//! The actor publishes the snapshot it last handed out in a `Published` slot that readers
//! look at first. Every change empties the slot *before* it is applied, synchronously inside
//! the actor, so a reader that starts after a write was acknowledged never sees an older
//! snapshot (read-your-writes): on an empty slot it asks the actor (`Publish`), which answers
//! with its current state after every write it has acknowledged.

use actix::prelude::*;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

/// An actor's fold and the last log sequence of each subject it writes, as of one moment.
pub struct Snapshot<S> {
    pub state: Arc<S>,
    pub seqs: Arc<HashMap<String, u64>>,
}

impl<S> Clone for Snapshot<S> {
    fn clone(&self) -> Self {
        Snapshot {
            state: self.state.clone(),
            seqs: self.seqs.clone(),
        }
    }
}

/// The slot where an actor leaves its latest snapshot for readers.
pub struct Published<S>(Arc<Mutex<Option<Snapshot<S>>>>);

impl<S> Clone for Published<S> {
    fn clone(&self) -> Self {
        Published(self.0.clone())
    }
}

impl<S> Default for Published<S> {
    fn default() -> Self {
        Published(Arc::new(Mutex::new(None)))
    }
}

impl<S> Published<S> {
    /// The published snapshot, when no write happened since it was published.
    pub fn current(&self) -> Option<Snapshot<S>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, snapshot: Snapshot<S>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(snapshot);
    }

    fn clear(&self) {
        // Dropped outside the lock: the last reference may free a whole fold.
        let old = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(old);
    }

    /// The current snapshot: the published one, else the actor's answer to `Publish`.
    pub async fn read<A>(&self, actor: &Addr<A>) -> Result<Snapshot<S>, MailboxError>
    where
        S: Send + Sync + 'static,
        A: Actor<Context = Context<A>> + Handler<Publish<S>>,
    {
        match self.current() {
            Some(snapshot) => Ok(snapshot),
            None => actor.send(Publish::new()).await,
        }
    }
}

/// An actor's state, shared with readers. Reads deref to the state; a mutable access empties
/// the published slot and copies the state only if a reader still holds it.
pub struct Shared<S> {
    state: Arc<S>,
    published: Published<S>,
}

impl<S> Shared<S> {
    pub fn new(state: S) -> Self {
        Shared {
            state: Arc::new(state),
            published: Published::default(),
        }
    }

    /// The slot readers look at (hand it out once, at wiring).
    pub fn published(&self) -> Published<S> {
        self.published.clone()
    }

    /// Publishes the current state with the journal's sequences and returns it.
    pub fn publish(&self, seqs: Arc<HashMap<String, u64>>) -> Snapshot<S> {
        let snapshot = Snapshot {
            state: self.state.clone(),
            seqs,
        };
        self.published.set(snapshot.clone());
        snapshot
    }
}

impl<S> Deref for Shared<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S: Clone> DerefMut for Shared<S> {
    fn deref_mut(&mut self) -> &mut S {
        self.published.clear();
        Arc::make_mut(&mut self.state)
    }
}

/// Ask an actor to publish its current snapshot (a reader found the slot empty).
pub struct Publish<S>(std::marker::PhantomData<S>);

impl<S> Publish<S> {
    pub fn new() -> Self {
        Publish(std::marker::PhantomData)
    }
}

impl<S> Default for Publish<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: 'static> Message for Publish<S> {
    type Result = Snapshot<S>;
}

/// Implements `Publish<S>` for an actor with fields `journal` and `state: Shared<S>`.
#[macro_export]
macro_rules! published_actor {
    ($actor:ty, $state:ty) => {
        impl ::actix::Handler<$crate::actors::published::Publish<$state>> for $actor {
            type Result = ::actix::MessageResult<$crate::actors::published::Publish<$state>>;
            fn handle(
                &mut self,
                _: $crate::actors::published::Publish<$state>,
                _: &mut Self::Context,
            ) -> Self::Result {
                ::actix::MessageResult(self.state.publish(self.journal.shared_seqs()))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_empties_the_slot_and_copies_only_a_held_state() {
        let mut shared = Shared::new(vec![1]);
        let slot = shared.published();
        let seqs = Arc::new(HashMap::new());
        let held = shared.publish(seqs.clone());
        assert_eq!(*slot.current().unwrap().state, vec![1]);
        shared.push(2);
        assert!(slot.current().is_none(), "a write unpublishes");
        assert_eq!(*held.state, vec![1], "a reader keeps its snapshot");
        drop(held);
        let before = Arc::as_ptr(&shared.publish(seqs.clone()).state);
        slot.clear();
        shared.push(3);
        assert_eq!(Arc::as_ptr(&shared.state), before, "no reader: no copy");
        assert_eq!(*shared, vec![1, 2, 3]);
    }
}
