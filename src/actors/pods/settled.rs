//! What the pods actor tells others when a pod's job ends: the pod as the job found it and as
//! it left it. The dns actor listens (R9: names follow a pod's addresses), and so does the
//! consistency checker (§3.1 step 11: a repair pass follows); the pods actor does not know
//! who listens (wiring connects them through `Listeners`), so it depends on no other area.

use super::state::PodsState;
use crate::pod::DesiredPod;
use actix::prelude::*;

/// A pod's job ended. `before`: the pod (or its deleted record) as the job started; `after`:
/// the desired pod now, `None` once it is gone.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct PodSettled {
    pub key: String,
    pub before: Option<DesiredPod>,
    pub after: Option<DesiredPod>,
}

/// The pod as its job starts.
pub(super) fn before(state: &PodsState, key: &str) -> Option<DesiredPod> {
    state
        .pods
        .get(key)
        .or_else(|| state.deleting.get(key))
        .cloned()
}

/// Tells `listener` how the job left the pod.
pub(super) fn announce(
    state: &PodsState,
    listener: &Option<Recipient<PodSettled>>,
    key: &str,
    before: Option<DesiredPod>,
) {
    if let Some(listener) = listener {
        listener.do_send(PodSettled {
            key: key.to_string(),
            before,
            after: state.pods.get(key).cloned(),
        });
    }
}

/// Hands each `PodSettled` to every listener (the pods actor tells one recipient).
pub struct Listeners(pub Vec<Recipient<PodSettled>>);

impl Actor for Listeners {
    type Context = Context<Self>;
}

impl Handler<PodSettled> for Listeners {
    type Result = ();

    fn handle(&mut self, msg: PodSettled, _: &mut Context<Self>) {
        for listener in &self.0 {
            listener.do_send(msg.clone());
        }
    }
}
