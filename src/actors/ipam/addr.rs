//! Pure address helpers: the per-network DNS server and last usable address (§4), the
//! parsing of a veth `address` as the device prints it, and NAME-10's adopted hostname.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// The network's conventional DNS server address: broadcast − 3 (`x.x.x.252` on a /24,
/// `10.0.255.252` on `10.0.0.0/16`). `None` when the subnet is too small to have one.
pub fn dns_server(subnet: Ipv4Net) -> Option<Ipv4Addr> {
    below_broadcast(subnet, 3)
}

/// The highest usable host address: broadcast − 1 (the default end of the dynamic range).
/// `None` for /31 and /32, which have no broadcast-reserved layout.
pub fn max_usable(subnet: Ipv4Net) -> Option<Ipv4Addr> {
    below_broadcast(subnet, 1)
}

fn below_broadcast(subnet: Ipv4Net, by: u32) -> Option<Ipv4Addr> {
    let subnet = subnet.trunc();
    let (network, broadcast) = (u32::from(subnet.network()), u32::from(subnet.broadcast()));
    let ip = broadcast.checked_sub(by)?;
    (ip > network).then(|| Ipv4Addr::from(ip))
}

/// The IPv4 address a device veth carries. RouterOS prints `address` as a comma list of
/// CIDRs (IPv4 and IPv6 since 7.11); the first IPv4 entry counts (`routeros-rest.md` §4.1).
/// Bare addresses are accepted too. Anything else is a reason, never a panic.
pub fn parse_device_address(text: &str) -> Result<Ipv4Addr, String> {
    let mut saw_v6 = false;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (addr, prefix) = match part.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (part, None),
        };
        if let Ok(ip) = addr.parse::<Ipv4Addr>() {
            return match prefix {
                None => Ok(ip),
                Some(p) if p.parse::<u8>().is_ok_and(|p| p <= 32) => Ok(ip),
                Some(p) => Err(format!("{part:?} has an invalid prefix length {p:?}")),
            };
        }
        if addr.parse::<std::net::Ipv6Addr>().is_ok() {
            saw_v6 = true;
            continue;
        }
        return Err(format!("{part:?} is not an IP address"));
    }
    Err(if saw_v6 {
        format!("{text:?} has no IPv4 address (IPv6 only)")
    } else {
        format!("{text:?} has no address")
    })
}

/// NAME-10 [O]: the hostname recorded for a veth learned from the device: the third
/// `_`-separated field of its name (the truncated pod name), else the whole name.
pub fn adopted_hostname(veth: &str) -> String {
    veth.split('_').nth(2).unwrap_or(veth).to_string()
}
