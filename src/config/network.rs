//! Network definitions (§8.2 `networks`, §4 IPAM-1/IPAM-2) and the legacy
//! single-network block (§8.1).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::api_key::ApiKey;

/// One container network: a RouterOS bridge, an IPAM pool and a DNS zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Network {
    pub name: String,
    /// Existing RouterOS bridge the veth ports join.
    pub bridge: String,
    pub cidr: String,
    /// Empty → network address + 1.
    pub gateway: String,
    /// Parsed, unused by the core.
    pub vlan: u16,
    /// Empty → network + 2.
    pub ipam_start: String,
    /// Empty → broadcast − 1.
    pub ipam_end: String,
    /// DNS not run by mkube (skipped by DNS-1; the checker passes it).
    #[serde(rename = "externalDNS")]
    pub external_dns: bool,
    pub dns: DnsConfig,
}

/// The network's microdns instance and zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DnsConfig {
    /// microdns REST base URL.
    pub endpoint: String,
    pub zone: String,
    /// Resolver given to containers; target of the `dns` record.
    pub server: String,
    pub static_records: Vec<StaticRecord>,
    pub dhcp: DhcpConfig,
    /// File holding the microdns REST API key (`api.rest.api_key` on the server), sent as
    /// `X-API-Key`; empty = the server runs without a key.
    pub api_key_file: String,
    /// The key read from `api_key_file` at load; never serialised.
    #[serde(skip)]
    pub api_key: Option<ApiKey>,
}

impl DnsConfig {
    /// `endpoint` as the microdns client uses it: trimmed, without a trailing slash.
    pub fn endpoint_base(&self) -> &str {
        self.endpoint.trim().trim_end_matches('/')
    }
}

/// A fixed A record in the network's zone (TTL 300).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StaticRecord {
    pub name: String,
    pub ip: String,
}

/// DHCPv4 pool served by the network's (or a relay target's) microdns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DhcpConfig {
    pub enabled: bool,
    pub range_start: String,
    pub range_end: String,
    /// Seconds; 0 → 3600 in the generated config.
    pub lease_time: u64,
    /// PXE next-server.
    pub next_server: String,
    /// PXE boot file.
    pub boot_file: String,
    /// Relay: serve this pool from that network's DNS pod.
    pub server_network: String,
    pub reservations: Vec<DhcpReservation>,
}

/// A fixed DHCP lease; with a hostname also a DNS name (TTL 300).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DhcpReservation {
    pub mac: String,
    pub ip: String,
    pub hostname: String,
}

/// Legacy `network:` block; replaces `networks` with one network named
/// `containers` (§8.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyNetworkConfig {
    #[serde(rename = "podCIDR")]
    pub pod_cidr: String,
    /// Parsed, unused.
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: String,
    #[serde(rename = "gatewayIP")]
    pub gateway_ip: String,
    #[serde(rename = "bridgeName")]
    pub bridge_name: String,
    pub vlan: u16,
    #[serde(rename = "dnsServers")]
    pub dns_servers: Vec<String>,
}

impl LegacyNetworkConfig {
    /// The `containers` network this block stands for. Empty bridge and CIDR
    /// fall back to the default network's values.
    pub fn to_network(&self) -> Network {
        let fallback = Network::default_containers();
        let or = |v: &str, d: String| if v.is_empty() { d } else { v.to_string() };
        Network {
            name: "containers".into(),
            bridge: or(&self.bridge_name, fallback.bridge),
            cidr: or(&self.pod_cidr, fallback.cidr),
            gateway: self.gateway_ip.clone(),
            vlan: self.vlan,
            dns: DnsConfig {
                server: self.dns_servers.first().cloned().unwrap_or_default(),
                ..DnsConfig::default()
            },
            ..Network::default()
        }
    }
}

impl Network {
    /// The network used when the configuration names none (§8.2).
    pub fn default_containers() -> Network {
        Network {
            name: "containers".into(),
            bridge: "containers".into(),
            cidr: "192.168.200.0/24".into(),
            gateway: "192.168.200.1".into(),
            dns: DnsConfig {
                endpoint: "http://192.168.200.199:8080".into(),
                zone: "gt.lo".into(),
                server: "192.168.200.199".into(),
                static_records: vec![StaticRecord {
                    name: "rose1".into(),
                    ip: "192.168.200.1".into(),
                }],
                ..DnsConfig::default()
            },
            ..Network::default()
        }
    }

    /// The subnet (host bits cleared). Panics if `cidr` does not parse;
    /// [`Config::validate`](super::Config::validate) rules that out.
    pub fn subnet(&self) -> Ipv4Net {
        self.try_subnet()
            .unwrap_or_else(|e| panic!("network {:?}: {e} (config not validated)", self.name))
    }

    /// The gateway: `gateway`, else network address + 1 (IPAM-1). Panics on
    /// an unvalidated config.
    pub fn gateway_ip(&self) -> Ipv4Addr {
        self.try_gateway_ip()
            .unwrap_or_else(|e| panic!("network {:?}: {e} (config not validated)", self.name))
    }

    /// First and last address of the dynamic IPAM range (IPAM-2): defaults
    /// network + 2 and broadcast − 1. Panics on an unvalidated config.
    pub fn ipam_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        self.try_ipam_range()
            .unwrap_or_else(|e| panic!("network {:?}: {e} (config not validated)", self.name))
    }

    /// `dns.server` parsed, if set.
    pub fn dns_server_ip(&self) -> Option<Ipv4Addr> {
        self.dns.server.parse().ok()
    }

    /// Fallible form of [`Network::subnet`].
    pub fn try_subnet(&self) -> Result<Ipv4Net, String> {
        self.cidr
            .trim()
            .parse::<Ipv4Net>()
            .map(|n| n.trunc())
            .map_err(|_| format!("{:?} is not an IPv4 CIDR", self.cidr))
    }

    /// Fallible form of [`Network::gateway_ip`].
    pub fn try_gateway_ip(&self) -> Result<Ipv4Addr, String> {
        if self.gateway.is_empty() {
            return Ok(offset(self.try_subnet()?.network(), 1));
        }
        parse_ipv4(&self.gateway)
    }

    /// Fallible form of [`Network::ipam_range`].
    pub fn try_ipam_range(&self) -> Result<(Ipv4Addr, Ipv4Addr), String> {
        let net = self.try_subnet()?;
        let start = match self.ipam_start.as_str() {
            "" => offset(net.network(), 2),
            s => parse_ipv4(s)?,
        };
        let end = match self.ipam_end.as_str() {
            "" => offset(net.broadcast(), -1),
            s => parse_ipv4(s)?,
        };
        Ok((start, end))
    }
}

/// Parses a dotted-quad IPv4 address, with a reason on failure.
pub(crate) fn parse_ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.parse::<Ipv4Addr>()
        .map_err(|_| format!("{text:?} is not an IPv4 address"))
}

fn offset(addr: Ipv4Addr, delta: i64) -> Ipv4Addr {
    let v = (i64::from(u32::from(addr)) + delta).clamp(0, i64::from(u32::MAX));
    Ipv4Addr::from(v as u32)
}
