//! The pure decision behind `Allocate` (IPAM-2, IPAM-3, IPAM-7).

use super::pool::IpamError;
use super::pools::Pools;
use super::reserve::Reservations;
use super::state::IpamState;
use std::net::Ipv4Addr;

/// What is asked: `static_ip` if set, else the next free dynamic address.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub network: &'a str,
    pub key: &'a str,
    pub static_ip: Option<Ipv4Addr>,
}

/// Returns the address and whether it must be recorded (false: already held as asked).
///
/// - Static (IPAM-3): inside the subnet, not the gateway, not held by another key; the same
///   key holding it succeeds without a new event [F]. A key holding another address in the
///   network has its entry replaced.
/// - Dynamic (IPAM-2): a key that already holds an address in the network keeps it (a
///   retried create gets the same IP, no event); otherwise next-fit, skipping held addresses
///   and addresses reserved for other keys' static IPs (IPAM-7 [D]).
pub fn decide(
    pools: &mut Pools,
    state: &IpamState,
    reserved: &Reservations,
    req: Request<'_>,
) -> Result<(Ipv4Addr, bool), IpamError> {
    let pool = pools
        .get_mut(req.network)
        .ok_or_else(|| IpamError::UnknownNetwork(req.network.to_string()))?;
    let held = state.pools.get(req.network);
    let current = held.and_then(|p| p.get(req.key));
    match req.static_ip {
        Some(ip) => {
            pool.check_static(ip, req.key, state.holder(req.network, ip))?;
            Ok((ip, current.is_none_or(|a| a.ip != ip)))
        }
        None => match current {
            Some(a) => Ok((a.ip, false)),
            None => {
                let ip = pool.next_dynamic(|ip| {
                    held.is_some_and(|p| p.values().any(|a| a.ip == ip))
                        || reserved.reserved_for_other(req.network, ip, req.key)
                })?;
                Ok((ip, true))
            }
        },
    }
}
