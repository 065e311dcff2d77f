//! The configured pools, in configuration order (IPAM-1; IPAM-5 looks addresses up in order).

use super::pool::Pool;
use crate::config::Config;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Default)]
pub struct Pools {
    pools: Vec<(String, Pool)>,
}

impl Pools {
    pub fn new(pools: Vec<(String, Pool)>) -> Self {
        Pools { pools }
    }

    /// One pool per configured network (IPAM-1). The configuration was validated at load
    /// (unparsable CIDR, gateway or range aborts startup); a network that still does not
    /// parse is left out with an error instead of panicking.
    pub fn from_config(config: &Config) -> Self {
        let pools = config
            .networks
            .iter()
            .filter_map(|n| match Pool::of(n) {
                Ok(pool) => Some((n.name.clone(), pool)),
                Err(reason) => {
                    tracing::error!(network = %n.name, %reason, "IPAM pool left out");
                    None
                }
            })
            .collect();
        Pools { pools }
    }

    pub fn get(&self, network: &str) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|(n, _)| n == network)
            .map(|(_, p)| p)
    }

    pub fn get_mut(&mut self, network: &str) -> Option<&mut Pool> {
        self.pools
            .iter_mut()
            .find(|(n, _)| n == network)
            .map(|(_, p)| p)
    }

    /// The first pool (in configuration order) whose subnet contains `ip` (IPAM-5 [D]).
    pub fn network_of(&self, ip: Ipv4Addr) -> Option<&str> {
        self.pools
            .iter()
            .find(|(_, p)| p.subnet.contains(&ip))
            .map(|(n, _)| n.as_str())
    }
}
