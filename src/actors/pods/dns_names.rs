//! A pod's DNS names follow its worker jobs (R9): once a job leaves the pod with addressed
//! containers its names are registered, and once a job removed it they are deregistered. The
//! dns actor skips names already in place, and the reconcile pass repairs whatever this
//! misses, so these are fire-and-forget.

use super::state::{DesiredPod, PodsState};
use crate::actors::dns::{DeregisterPod, DnsActor, RegisterPod};
use actix::Addr;

/// The pod as the job starts (its addresses are needed to deregister it once gone).
pub(super) fn snapshot(state: &PodsState, key: &str) -> Option<DesiredPod> {
    state
        .pods
        .get(key)
        .or_else(|| state.deleting.get(key))
        .cloned()
}

pub(super) fn after_job(
    state: &PodsState,
    dns: &Addr<DnsActor>,
    key: &str,
    before: Option<DesiredPod>,
) {
    let correlation = format!("pod/{key}");
    match state.pods.get(key) {
        Some(pod) if has_address(pod) => dns.do_send(RegisterPod {
            pod: pod.clone(),
            correlation,
        }),
        Some(_) => {}
        None => {
            if let Some(pod) = before.filter(has_address) {
                dns.do_send(DeregisterPod { pod, correlation });
            }
        }
    }
}

fn has_address(pod: &DesiredPod) -> bool {
    pod.containers
        .values()
        .any(|c| !c.removing && !c.ip.is_empty())
}
