//! §6.4 `POST /api/v1/consistency/repair`: CC-R3 on demand — every IPAM entry of mkube's
//! naming whose veth is not on the device, and that no desired, deleting or boot-manifest pod
//! claims, is released (recorded first, as in a pass). One read (`GET /interface/veth`). It
//! runs as an operator's explicit request: the dry-run switch and the cap do not hold it back,
//! a boot manifest that did not load does (the claims would not be known complete).

use super::manifest::ManifestView;
use super::reap::{ReapError, reap};
use super::state::ConsistencyState;
use super::sweep::{Refusal, Resource, SweepFacts, sweep};
use super::{ConsistencyActor, Deps};
use crate::routeros::DeviceSnapshot;
use actix::Addr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// 500 (§6.4).
    #[error("listing the device's veths failed: {0}")]
    ListVeths(String),
    #[error("no RouterOS device: the device engine runs in standalone mode only")]
    NoDevice,
    /// The claims are not known complete; nothing was released.
    #[error("refused: {0}")]
    Refused(String),
    /// A release could not be recorded (NATS); those before it were released.
    #[error("recording a release failed: {0}")]
    Unrecorded(String),
    #[error("the consistency actor stopped")]
    Stopped,
}

pub(super) struct ReleaseJob {
    pub deps: Deps,
    pub me: Addr<ConsistencyActor>,
    pub state: ConsistencyState,
    pub correlation: String,
}

pub(super) async fn run(job: ReleaseJob) -> Result<Vec<String>, ReleaseError> {
    let deps = &job.deps;
    let pods = deps
        .pods_view
        .read(&deps.pods)
        .await
        .map_err(|_| ReleaseError::Stopped)?;
    let link = deps.device.as_ref().ok_or(ReleaseError::NoDevice)?;
    let veths = async {
        let ros = link.get().await.map_err(|e| e.to_string())?;
        ros.list_veths().await.map_err(|e| e.to_string())
    }
    .await
    .map_err(ReleaseError::ListVeths)?;
    let ipam = deps
        .ipam_view
        .read(&deps.ipam)
        .await
        .map_err(|_| ReleaseError::Stopped)?;
    let manifest = ManifestView::read(&deps.config);
    let device = DeviceSnapshot {
        veths,
        ..DeviceSnapshot::default()
    };
    let plan = sweep(&SweepFacts {
        device: &device,
        pods: &pods.state,
        manifest: &manifest,
        ipam: &ipam.state,
        max_fraction: 1.0,
    });
    if let Some(refusal @ Refusal::ManifestNotLoaded(_)) = &plan.refusal {
        return Err(ReleaseError::Refused(refusal.to_string()));
    }
    let mut released = Vec::new();
    for orphan in plan.of(Resource::Allocation) {
        match reap(deps, &job.me, &job.state, orphan, &job.correlation).await {
            Ok(()) => released.push(orphan.name.clone()),
            Err(ReapError::Unrecorded(e)) => return Err(ReleaseError::Unrecorded(e)),
            Err(ReapError::Removal(e)) => {
                tracing::warn!(veth = %orphan.name, error = %e, "CONSISTENCY: release failed")
            }
        }
    }
    Ok(released)
}
