//! One network's address pool: the pure decisions of IPAM-1…IPAM-3 (no I/O, no events).

use ipnet::Ipv4Net;
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

impl Pool {
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
