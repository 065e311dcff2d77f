//! Veth interfaces and their bridge ports on the device (NET-1 / NET-2 of controller.md §4).
//! Device calls go through the client's idempotent operations; the actor records what exists
//! (`VethCreated` / `VethRemoved`), which is also the ownership record sweeps rely on (L-2).
//! Addresses are IPAM's business: the pod worker allocates before `EnsureVeth` and releases
//! after `RemoveVeth` succeeded (a failed delete keeps the address, L-7).

pub mod state;

use super::device::DeviceLink;
use super::journal::{Journal, commit};
use crate::events::AppendError;
use crate::events::catalogue::VethsEvent;
use crate::routeros::{PortOutcome, RosError, VethOutcome};
use actix::prelude::*;
use state::{Veth, VethsState};
use std::time::Duration;

pub struct VethsActor {
    journal: Journal,
    state: VethsState,
    device: DeviceLink,
    /// First dangling-port collection after start, then the period (NET-2 [F]).
    collect: (Duration, Duration),
}

impl VethsActor {
    pub const NAME: &'static str = "veths";
    pub const AREAS: &'static [&'static str] = &["veths"];

    pub fn new(journal: Journal, state: VethsState) -> Self {
        Self::with_device(journal, state, DeviceLink::unconfigured(), None)
    }

    /// `collect`: (first run after start, period) of `CollectDanglingPorts`; `None` = never.
    pub fn with_device(
        journal: Journal,
        state: VethsState,
        device: DeviceLink,
        collect: Option<(Duration, Duration)>,
    ) -> Self {
        VethsActor {
            journal,
            state,
            device,
            collect: collect.unwrap_or((Duration::MAX, Duration::MAX)),
        }
    }
}

impl Actor for VethsActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let (first, every) = self.collect;
        if first == Duration::MAX {
            return;
        }
        ctx.run_later(first, move |_, ctx| {
            ctx.notify(CollectDanglingPorts);
            ctx.run_interval(every, |_, ctx| ctx.notify(CollectDanglingPorts));
        });
    }
}

crate::persistent_actor!(VethsActor, VethsState, Veths(VethsEvent) => apply);

#[derive(Debug, thiserror::Error)]
pub enum VethError {
    #[error("creating veth {name}: {source}")]
    Create { name: String, source: Box<RosError> },
    #[error("adding {name} to bridge {bridge}: {source}")]
    Bridge {
        name: String,
        bridge: String,
        source: Box<RosError>,
    },
    #[error("deleting veth {name}: {source}")]
    Delete { name: String, source: Box<RosError> },
    #[error("RouterOS unreachable: {0}")]
    Device(Box<RosError>),
    #[error(transparent)]
    Log(#[from] AppendError),
    #[error("veths actor stopped")]
    Stopped,
}

/// NET-1 (device part): the veth `name` exists with `address` (CIDR) and `gateway` and is a
/// static port of `bridge`. Identical objects are left alone; a wrong address is corrected in
/// place; a dynamic port makes the veth be recreated (L-6). Records `VethCreated` when the
/// recorded facts change.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), VethError>")]
pub struct EnsureVeth {
    pub name: String,
    pub network: String,
    pub address: String,
    pub gateway: String,
    pub bridge: String,
    pub correlation: String,
    /// The caller's bulk observation shows neither the veth nor a port for it: add first,
    /// read only on a duplicate refusal (one call per object instead of two).
    pub absent: bool,
}

/// NET-2 (device part): the static bridge port first, then the veth; already gone = done.
/// Records `VethRemoved` when mkube had recorded the veth. A failure is reported (the caller
/// keeps the address, L-7).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), VethError>")]
pub struct RemoveVeth {
    pub name: String,
    pub correlation: String,
}

/// NET-2 [F]: delete static bridge ports whose interface is gone (`*<hex>`). Such a port
/// belongs to no interface at all, so removing it never touches anything alive.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<usize, VethError>")]
pub struct CollectDanglingPorts;

impl Handler<EnsureVeth> for VethsActor {
    // Not atomic: the device calls of different veths overlap (each name is one pod's, and
    // the pods actor runs one job per pod, L-4); only the record is serialised (`Recorded`).
    type Result = ResponseFuture<Result<(), VethError>>;

    fn handle(&mut self, msg: EnsureVeth, ctx: &mut Context<Self>) -> Self::Result {
        let device = self.device.clone();
        let me = ctx.address();
        Box::pin(async move {
            let m = &msg;
            let ros = device
                .get()
                .await
                .map_err(|e| VethError::Device(Box::new(e)))?;
            let create = |source| VethError::Create {
                name: m.name.clone(),
                source: Box::new(source),
            };
            let outcome = if m.absent {
                ros.add_veth(&m.name, &m.address, &m.gateway).await
            } else {
                ros.ensure_veth(&m.name, &m.address, &m.gateway).await
            }
            .map_err(create)?;
            // A veth this call added has no port yet.
            let mut port = if matches!(outcome, VethOutcome::Created { .. }) {
                ros.add_bridge_port(&m.bridge, &m.name).await
            } else {
                ros.ensure_bridge_port(&m.bridge, &m.name).await
            };
            if let Ok(PortOutcome::Dynamic { .. }) = port {
                ros.recreate_veth(&m.name, &m.address, &m.gateway)
                    .await
                    .map_err(create)?;
                port = ros.ensure_bridge_port(&m.bridge, &m.name).await;
            }
            if let Err(source) = port {
                // NET-1: a veth this call created does not outlive its failed attach.
                if matches!(outcome, VethOutcome::Created { .. }) {
                    let _ = ros.remove_veth(&m.name).await;
                }
                return Err(VethError::Bridge {
                    name: m.name.clone(),
                    bridge: m.bridge.clone(),
                    source: Box::new(source),
                });
            }
            me.send(Recorded(msg))
                .await
                .map_err(|_| VethError::Stopped)?
        })
    }
}

/// Records `VethCreated` for an ensured veth when the recorded facts change (atomic, so the
/// actor's appends never interleave).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), VethError>")]
struct Recorded(EnsureVeth);

impl Handler<Recorded> for VethsActor {
    type Result = AtomicResponse<Self, Result<(), VethError>>;

    fn handle(&mut self, Recorded(msg): Recorded, _: &mut Context<Self>) -> Self::Result {
        let want = Veth {
            network: msg.network.clone(),
            address: msg.address.clone(),
            gateway: msg.gateway.clone(),
            bridge: msg.bridge.clone(),
        };
        if self.state.veths.get(&msg.name) == Some(&want) {
            return AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        }
        let event = VethsEvent::VethCreated {
            name: msg.name,
            network: want.network,
            address: want.address,
            gateway: want.gateway,
            bridge: want.bridge,
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(|r, _, _| r.map(|_| ()).map_err(VethError::from)),
        ))
    }
}

impl Handler<RemoveVeth> for VethsActor {
    type Result = AtomicResponse<Self, Result<(), VethError>>;

    fn handle(&mut self, msg: RemoveVeth, _: &mut Context<Self>) -> Self::Result {
        let device = self.device.clone();
        let name = msg.name.clone();
        let effect = async move {
            let ros = device
                .get()
                .await
                .map_err(|e| VethError::Device(Box::new(e)))?;
            ros.remove_veth(&name)
                .await
                .map_err(|source| VethError::Delete {
                    name,
                    source: Box::new(source),
                })
        };
        AtomicResponse::new(Box::pin(effect.into_actor(self).then(
            move |r: Result<bool, VethError>, act, _| {
                let fut: ResponseActFuture<Self, Result<(), VethError>> = match r {
                    Err(e) => Box::pin(fut::ready(Err(e))),
                    Ok(_) if !act.state.veths.contains_key(&msg.name) => {
                        Box::pin(fut::ready(Ok(())))
                    }
                    Ok(_) => {
                        let event = VethsEvent::VethRemoved { name: msg.name };
                        Box::pin(
                            commit(act, event.into(), &msg.correlation)
                                .map(|r, _, _| r.map(|_| ()).map_err(VethError::from)),
                        )
                    }
                };
                fut
            },
        )))
    }
}

impl Handler<CollectDanglingPorts> for VethsActor {
    type Result = ResponseFuture<Result<usize, VethError>>;

    fn handle(&mut self, _: CollectDanglingPorts, _: &mut Context<Self>) -> Self::Result {
        let device = self.device.clone();
        Box::pin(async move {
            let ros = device
                .get()
                .await
                .map_err(|e| VethError::Device(Box::new(e)))?;
            let removed = ros
                .collect_dangling_ports()
                .await
                .map_err(|e| VethError::Device(Box::new(e)))?;
            if !removed.is_empty() {
                tracing::info!(count = removed.len(), "dangling bridge ports removed");
            }
            Ok(removed.len())
        })
    }
}
