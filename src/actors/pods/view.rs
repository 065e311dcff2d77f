//! What a pod's job reads of the pods actor when it starts: the pod's records and the facts
//! of other pods that bear on it.

use super::PodsActor;
use crate::pod::DesiredPod;
use actix::prelude::*;

/// Everything the worker needs to know about one pod key.
#[derive(Debug, Clone, Default)]
pub struct PodView {
    pub desired: Option<DesiredPod>,
    pub deleting: Option<DesiredPod>,
    /// Registered lifecycle unit names.
    pub units: Vec<String>,
    /// Another desired pod whose veth names collide with this pod's and that keeps them
    /// (NAME-2 [D]): this pod must not be created.
    pub veth_clash: Option<String>,
}

#[derive(Debug, Message)]
#[rtype(result = "PodView")]
pub struct GetPod {
    pub key: String,
}

impl Handler<GetPod> for PodsActor {
    type Result = MessageResult<GetPod>;

    fn handle(&mut self, msg: GetPod, _: &mut Context<Self>) -> Self::Result {
        MessageResult(PodView {
            desired: self.state.pods.get(&msg.key).cloned(),
            veth_clash: super::decide::veth_clash(&self.state.pods, &msg.key),
            deleting: self.state.deleting.get(&msg.key).cloned(),
            units: self.state.units.keys().cloned().collect(),
        })
    }
}
