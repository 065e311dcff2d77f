//! One network's address pool: the pure decisions of IPAM-1…IPAM-3 (no I/O, no events).

use crate::config::Network;
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("network {0:?} not found")]
    UnknownNetwork(String),
    #[error(
        "IPAM: no available IPs in {cidr} range {first}-{last} (all {size} addresses allocated)"
    )]
    Exhausted {
        cidr: Ipv4Net,
        first: Ipv4Addr,
        last: Ipv4Addr,
        size: u32,
    },
    #[error("IP {ip} is outside subnet {cidr}")]
    OutsideSubnet { ip: Ipv4Addr, cidr: Ipv4Net },
    #[error("IP {0} is the network gateway")]
    Gateway(Ipv4Addr),
    #[error("IP {ip} already allocated to {holder}")]
    Taken { ip: Ipv4Addr, holder: String },
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Next-fit cursor (IPAM-2); not persisted, starts at `first`.
    cursor: u32,
}

/// How much of a network's dynamic range is taken (`GET /api/v1/networks`, the console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Addresses in `first..=last`.
    pub size: u32,
    /// Held addresses in the range.
    pub used: u32,
    /// Neither held nor the gateway: what dynamic allocations can still take.
    pub free: u32,
    /// The free addresses as `[first, last]` runs, in order (at most [`MAX_RUNS`]).
    pub free_runs: Vec<[Ipv4Addr; 2]>,
}

/// Runs listed per network; a fragmented /16 says the rest by its `free` count.
pub const MAX_RUNS: usize = 64;

impl Pool {
    /// The pool of a configured network (its subnet, gateway and dynamic range).
    pub fn of(n: &Network) -> Result<Pool, String> {
        let subnet = n.try_subnet()?;
        let gateway = n.try_gateway_ip()?;
        let (first, last) = n.try_ipam_range()?;
        Ok(Pool::new(subnet, gateway, first, last))
    }

    /// The range's usage when `held` are the network's held addresses.
    pub fn usage(&self, held: &BTreeSet<Ipv4Addr>) -> Usage {
        let (first, last) = (u32::from(self.first), u32::from(self.last));
        let mut usage = Usage {
            first: self.first,
            last: self.last,
            size: last.checked_sub(first).map_or(0, |s| s.saturating_add(1)),
            used: 0,
            free: 0,
            free_runs: Vec::new(),
        };
        let mut run: Option<[Ipv4Addr; 2]> = None;
        // An inverted range (refused by config validation) iterates nothing.
        for v in first..=last {
            let ip = Ipv4Addr::from(v);
            let taken = held.contains(&ip);
            usage.used += u32::from(taken);
            if taken || ip == self.gateway {
                if let Some(r) = run.take() {
                    usage.free_runs.push(r);
                }
                continue;
            }
            usage.free += 1;
            run = Some(run.map_or([ip, ip], |[a, _]| [a, ip]));
        }
        usage.free_runs.extend(run);
        usage.free_runs.truncate(MAX_RUNS);
        usage
    }

    pub fn new(subnet: Ipv4Net, gateway: Ipv4Addr, first: Ipv4Addr, last: Ipv4Addr) -> Self {
        Pool {
            subnet,
            gateway,
            first,
            last,
            cursor: u32::from(first),
        }
    }

    /// Next-fit over `first..=last`: each attempt takes the cursor, advances it (wrapping),
    /// and accepts the address unless it is held or is the gateway (IPAM-2).
    pub fn next_dynamic(
        &mut self,
        is_held: impl Fn(Ipv4Addr) -> bool,
    ) -> Result<Ipv4Addr, IpamError> {
        let (first, last) = (u32::from(self.first), u32::from(self.last));
        // An inverted range (rejected by config validation, IPAM-2 [D]) has no addresses.
        let size = match last.checked_sub(first) {
            Some(span) => span.saturating_add(1),
            None => 0,
        };
        for _ in 0..size {
            let candidate = Ipv4Addr::from(self.cursor);
            self.cursor = if self.cursor >= last {
                first
            } else {
                self.cursor + 1
            };
            if candidate != self.gateway && !is_held(candidate) {
                return Ok(candidate);
            }
        }
        Err(IpamError::Exhausted {
            cidr: self.subnet,
            first: self.first,
            last: self.last,
            size,
        })
    }

    /// IPAM-3: inside the subnet (the dynamic range does not apply), not the gateway, and not
    /// held by another key. The same key holding it is fine (idempotent re-create, [F]).
    pub fn check_static(
        &self,
        ip: Ipv4Addr,
        key: &str,
        holder: Option<&str>,
    ) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip) {
            return Err(IpamError::OutsideSubnet {
                ip,
                cidr: self.subnet,
            });
        }
        if ip == self.gateway {
            return Err(IpamError::Gateway(ip));
        }
        match holder {
            Some(h) if h != key => Err(IpamError::Taken {
                ip,
                holder: h.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_the_range_and_lists_free_runs() {
        let ip = |d: u8| Ipv4Addr::new(10, 0, 0, d);
        let pool = Pool::new("10.0.0.0/24".parse().unwrap(), ip(1), ip(1), ip(10));
        let held: BTreeSet<Ipv4Addr> = [ip(3), ip(4), ip(8), ip(200)].into();
        let u = pool.usage(&held);
        assert_eq!(
            (u.size, u.used, u.free),
            (10, 3, 6),
            "gateway neither used nor free"
        );
        assert_eq!(
            u.free_runs,
            vec![[ip(2), ip(2)], [ip(5), ip(7)], [ip(9), ip(10)]]
        );
        let empty = Pool::new("10.0.0.0/24".parse().unwrap(), ip(1), ip(10), ip(5));
        let u = empty.usage(&held);
        assert_eq!((u.size, u.used, u.free, u.free_runs.len()), (0, 0, 0, 0));
    }
}
