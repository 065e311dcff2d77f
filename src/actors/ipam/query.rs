//! Read-only questions to the ipam actor, for the HTTP API.

use super::IpamActor;
use super::pool::IpamError;
use super::state::Port;
use actix::prelude::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Every held address as `{veth: ip}` (`GET /api/v1/allocations`).
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "BTreeMap<String, Ipv4Addr>")]
pub struct GetAllocations;

/// One network's ports `[{name, ip, hostname}]` (`GET /api/v1/networks/{name}/ports`);
/// `UnknownNetwork` for a network that is not configured (404).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Vec<Port>, IpamError>")]
pub struct GetPorts {
    pub network: String,
}

impl Handler<GetAllocations> for IpamActor {
    type Result = MessageResult<GetAllocations>;

    fn handle(&mut self, _: GetAllocations, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.allocations())
    }
}

impl Handler<GetPorts> for IpamActor {
    type Result = Result<Vec<Port>, IpamError>;

    fn handle(&mut self, msg: GetPorts, _: &mut Context<Self>) -> Self::Result {
        match self.pools.get(&msg.network) {
            Some(_) => Ok(self.state.ports(&msg.network)),
            None => Err(IpamError::UnknownNetwork(msg.network)),
        }
    }
}
