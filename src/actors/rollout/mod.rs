//! Image rollouts (images.md §4.4–4.5): the staggered rollout shared by the reconcile pass
//! and `POST /api/v1/images/redeploy` (API-4), and the set of pods being redeployed.
//!
//! The "redeploying" marks live only in this actor's memory, and every access goes through
//! its mailbox (§4.5 [lesson]: the original shared an unlocked map). That is acceptable
//! because a mark protects nothing durable: it only stops the reconcile pass from racing a
//! rebuild that is in flight in this process. After a crash no rebuild is in flight; the
//! per-pod workers resume any half-done rebuild from their recorded intents (rule 6), and
//! the pass treats the pods normally. Each mark also carries a deadline (`MARK_TTL`) after
//! which the pass ignores it, so a hung redeploy cannot leave a pod skipped forever, and it
//! is cleared on every exit path of the background task (a drop guard).

pub mod liveness;
pub mod select;
pub mod stagger;

use crate::actors::images::{ClearImage, ImagesActor};
use crate::actors::pods::PodsActor;
use actix::prelude::*;
use stagger::{How, Roller};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long a redeploy mark keeps the reconcile pass away from a pod.
pub const MARK_TTL: Duration = Duration::from_secs(600);

pub struct RolloutActor {
    roller: Roller,
    images: Addr<ImagesActor>,
    /// Pod key → (redeploy generation, deadline).
    marks: HashMap<String, (u64, Instant)>,
    generation: u64,
}

impl RolloutActor {
    pub fn new(roller: Roller, images: Addr<ImagesActor>) -> Self {
        RolloutActor {
            roller,
            images,
            marks: HashMap::new(),
            generation: 0,
        }
    }

    fn pods(&self) -> &Addr<PodsActor> {
        &self.roller.pods
    }
}

impl Actor for RolloutActor {
    type Context = Context<Self>;
}

/// API-4: redeploy the auto pods running `image`. Answers at once with the pod keys queued
/// (`None` when no pod matched or all were being redeployed already).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Vec<String>>, String>")]
pub struct Redeploy {
    pub image: String,
}

/// The pod keys the reconcile pass must skip now (marks past their deadline are dropped).
#[derive(Debug, Message)]
#[rtype(result = "BTreeSet<String>")]
pub struct Redeploying;

/// Clears the marks of one redeploy generation.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Unmark {
    keys: Vec<String>,
    generation: u64,
}

impl Handler<Redeploying> for RolloutActor {
    type Result = MessageResult<Redeploying>;

    fn handle(&mut self, _: Redeploying, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        self.marks.retain(|_, (_, deadline)| *deadline > now);
        MessageResult(self.marks.keys().cloned().collect())
    }
}

impl Handler<Unmark> for RolloutActor {
    type Result = ();

    fn handle(&mut self, msg: Unmark, _: &mut Context<Self>) {
        for key in msg.keys {
            if self
                .marks
                .get(&key)
                .is_some_and(|(g, _)| *g == msg.generation)
            {
                self.marks.remove(&key);
            }
        }
    }
}

/// Sends the final `Unmark` however the background task ends (done, halted, cancelled).
struct Unmarker {
    addr: Addr<RolloutActor>,
    keys: Vec<String>,
    generation: u64,
}

impl Drop for Unmarker {
    fn drop(&mut self) {
        self.addr.do_send(Unmark {
            keys: std::mem::take(&mut self.keys),
            generation: self.generation,
        });
    }
}

impl Handler<Redeploy> for RolloutActor {
    type Result = ResponseActFuture<Self, Result<Option<Vec<String>>, String>>;

    fn handle(&mut self, msg: Redeploy, _: &mut Context<Self>) -> Self::Result {
        let (pods, view) = (self.pods().clone(), self.roller.pods_view.clone());
        let read = async move { view.read(&pods).await };
        Box::pin(read.into_actor(self).map(move |snapshot, act, ctx| {
            let state = snapshot.map_err(|e| format!("pods actor: {e}"))?.state;
            let now = Instant::now();
            act.marks.retain(|_, (_, deadline)| *deadline > now);
            let targets: Vec<(String, Vec<String>)> = select::targets(&state, &msg.image)
                .into_iter()
                .filter(|(key, _)| !act.marks.contains_key(key))
                .collect();
            if targets.is_empty() {
                return Ok(None);
            }
            act.generation += 1;
            let generation = act.generation;
            let keys: Vec<String> = targets.iter().map(|(k, _)| k.clone()).collect();
            for key in &keys {
                act.marks.insert(key.clone(), (generation, now + MARK_TTL));
            }
            let refs: BTreeSet<String> = targets.into_iter().flat_map(|(_, i)| i).collect();
            let guard = Unmarker {
                addr: ctx.address(),
                keys: keys.clone(),
                generation,
            };
            let job = redeploy(
                act.roller.clone(),
                act.images.clone(),
                msg.image,
                refs,
                guard,
            );
            actix::spawn(job);
            Ok(Some(keys))
        }))
    }
}

/// The background part of a redeploy: clear the cached digests (IMG-3), then roll the pods
/// one at a time, unmarking each as its step ends.
async fn redeploy(
    roller: Roller,
    images: Addr<ImagesActor>,
    image: String,
    refs: BTreeSet<String>,
    guard: Unmarker,
) {
    let correlation = format!("redeploy/{image}/{}", uuid::Uuid::new_v4());
    for reference in refs {
        let clear = ClearImage {
            reference: reference.clone(),
            correlation: correlation.clone(),
        };
        match images.send(clear).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(%reference, error = %e, "REDEPLOY: clear failed"),
            Err(e) => tracing::warn!(%reference, error = %e, "REDEPLOY: clear failed"),
        }
    }
    let (addr, generation) = (guard.addr.clone(), guard.generation);
    let steps = roller
        .roll(&image, &guard.keys, How::Recreate, |key| {
            addr.do_send(Unmark {
                keys: vec![key.to_string()],
                generation,
            })
        })
        .await;
    tracing::info!(%image, reached = steps.len(), of = guard.keys.len(), "REDEPLOY: done");
    drop(guard);
}
