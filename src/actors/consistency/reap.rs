//! Removing one orphan (CC-R1…CC-R3): the fact first (`OrphanReaped`, with what identified
//! the object and why), then the removal. A removal cut short (a crash, a device error) is
//! finished by the next pass, which finds the same object and, seeing its reap recorded,
//! removes it without a second fact. Containers go with their mount and env lists; veths
//! with their static bridge port and their address (NET-2); allocations through IPAM.

use super::state::ConsistencyState;
use super::sweep::{Orphan, Resource};
use super::{ConsistencyActor, Deps, Record};
use crate::actors::ipam::Release;
use crate::actors::pods::worker::crash;
use crate::actors::veths::RemoveVeth;
use crate::events::catalogue::ConsistencyEvent;
use actix::Addr;

/// Why a reap did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReapError {
    /// The fact could not be recorded (NATS): nothing was removed.
    Unrecorded(String),
    /// The removal failed; the next pass retries it.
    Removal(String),
}

pub(super) async fn reap(
    deps: &Deps,
    me: &Addr<ConsistencyActor>,
    state: &ConsistencyState,
    orphan: &Orphan,
    correlation: &str,
) -> Result<(), ReapError> {
    let resource = orphan.resource.as_str();
    if !state.reap_recorded(resource, &orphan.name, &orphan.id) {
        let event = ConsistencyEvent::OrphanReaped {
            resource: resource.to_string(),
            name: orphan.name.clone(),
            id: orphan.id.clone(),
            reason: orphan.reason.clone(),
        };
        me.send(Record {
            event,
            correlation: correlation.to_string(),
        })
        .await
        .map_err(|e| ReapError::Unrecorded(e.to_string()))?
        .map_err(|e| ReapError::Unrecorded(e.to_string()))?;
    }
    crash::point("sweep.recorded");
    tracing::warn!(resource, name = %orphan.name, id = %orphan.id, reason = %orphan.reason, "CONSISTENCY: reaping an orphan");
    remove(deps, orphan, correlation)
        .await
        .map_err(ReapError::Removal)?;
    crash::point("sweep.reaped");
    Ok(())
}

async fn remove(deps: &Deps, orphan: &Orphan, correlation: &str) -> Result<(), String> {
    match orphan.resource {
        Resource::Container => {
            let link = deps.device.as_ref().ok_or("no device")?;
            let ros = link.get().await.map_err(|e| e.to_string())?;
            ros.delete_pod_container(&orphan.name, None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Resource::Veth => {
            deps.veths
                .send(RemoveVeth {
                    name: orphan.name.clone(),
                    correlation: correlation.to_string(),
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let ipam = deps
                .ipam_view
                .read(&deps.ipam)
                .await
                .map_err(|e| e.to_string())?;
            let networks: Vec<String> = ipam
                .state
                .networks_of(&orphan.name)
                .map(str::to_string)
                .collect();
            for network in networks {
                release(deps, &network, &orphan.name, correlation).await?;
            }
            Ok(())
        }
        Resource::Allocation => {
            let network = orphan
                .network
                .as_deref()
                .ok_or("allocation without a network")?;
            release(deps, network, &orphan.name, correlation).await
        }
    }
}

async fn release(deps: &Deps, network: &str, key: &str, correlation: &str) -> Result<(), String> {
    deps.ipam
        .send(Release {
            network: network.to_string(),
            key: key.to_string(),
            correlation: correlation.to_string(),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
