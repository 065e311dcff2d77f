//! The ipam actor's state: which key (veth) holds which address in each network's pool.

use crate::events::catalogue::IpamEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpamState {
    /// network → key → allocation.
    pub pools: BTreeMap<String, BTreeMap<String, Allocation>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub ip: Ipv4Addr,
    pub hostname: String,
    #[serde(rename = "static")]
    pub is_static: bool,
    /// Learned from a device veth rather than handed out by mkube (IPAM-5).
    pub from_device: bool,
}

/// One allocation as the network API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    pub ip: Ipv4Addr,
    pub hostname: String,
}

impl IpamState {
    pub fn apply(&mut self, event: &IpamEvent) {
        match event {
            IpamEvent::IpAllocated {
                network,
                key,
                ip,
                hostname,
                is_static,
            } => {
                let alloc = Allocation {
                    ip: *ip,
                    hostname: hostname.clone(),
                    is_static: *is_static,
                    from_device: false,
                };
                self.pools
                    .entry(network.clone())
                    .or_default()
                    .insert(key.clone(), alloc);
            }
            IpamEvent::IpRecorded {
                network,
                key,
                ip,
                hostname,
            } => {
                let pool = self.pools.entry(network.clone()).or_default();
                let hostname = match hostname.as_str() {
                    "" => pool
                        .get(key)
                        .map(|a| a.hostname.clone())
                        .unwrap_or_default(),
                    given => given.to_string(),
                };
                let is_static = pool.get(key).is_some_and(|a| a.is_static);
                pool.insert(
                    key.clone(),
                    Allocation {
                        ip: *ip,
                        hostname,
                        is_static,
                        from_device: true,
                    },
                );
            }
            IpamEvent::IpReleased { network, key } => {
                if let Some(pool) = self.pools.get_mut(network) {
                    pool.remove(key);
                    if pool.is_empty() {
                        self.pools.remove(network);
                    }
                }
            }
        }
    }

    /// Every key's address, for `GET /api/v1/allocations` (`{veth: ip}`). A key held in two
    /// networks (only possible mid-move) shows the address of the network named last.
    pub fn allocations(&self) -> BTreeMap<String, Ipv4Addr> {
        self.pools
            .values()
            .flat_map(|p| p.iter().map(|(k, a)| (k.clone(), a.ip)))
            .collect()
    }

    /// The ports of one network, ordered by veth name (`GET /api/v1/networks/{name}/ports`).
    pub fn ports(&self, network: &str) -> Vec<Port> {
        self.pools
            .get(network)
            .into_iter()
            .flatten()
            .map(|(k, a)| Port {
                name: k.clone(),
                ip: a.ip,
                hostname: a.hostname.clone(),
            })
            .collect()
    }

    /// The networks in which `key` holds an address.
    pub fn networks_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pools
            .iter()
            .filter(move |(_, p)| p.contains_key(key))
            .map(|(n, _)| n.as_str())
    }

    /// The address `key` holds in `network`, if any.
    pub fn address(&self, network: &str, key: &str) -> Option<Ipv4Addr> {
        self.pools.get(network)?.get(key).map(|a| a.ip)
    }

    /// The key holding `ip` in `network`, if any.
    pub fn holder(&self, network: &str, ip: Ipv4Addr) -> Option<&str> {
        self.pools
            .get(network)?
            .iter()
            .find(|(_, a)| a.ip == ip)
            .map(|(k, _)| k.as_str())
    }
}
