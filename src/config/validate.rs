//! Whole-configuration validation (§8.1, IPAM-1, IPAM-2 [D]): every problem
//! is collected, none is fatal on its own.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use ipnet::Ipv4Net;

use super::error::{ConfigError, Problem};
use super::network::{DhcpConfig, Network, parse_ipv4};
use super::schema::Config;

impl Config {
    /// Checks the configuration; `origin` (usually the file path) names the
    /// source in the error. Called by the loaders, and again by the caller
    /// after command-line overrides.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                problems,
            })
        }
    }

    /// Every validation problem, in field order.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        check_networks(&self.networks, &mut out);
        check_nats(self, &mut out);
        check_api(self, &mut out);
        check_consistency(self, &mut out);
        for (i, addr) in self.registry.local_addresses.iter().enumerate() {
            if addr.trim().is_empty() {
                out.push(Problem::new(
                    format!("registry.localAddresses[{i}]"),
                    "must not be empty",
                ));
            }
        }
        out
    }
}

fn check_networks(networks: &[Network], out: &mut Vec<Problem>) {
    if networks.is_empty() {
        out.push(Problem::new("networks", "at least one network is required"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, net) in networks.iter().enumerate() {
        let at = format!("networks[{i}]");
        if net.name.trim().is_empty() {
            out.push(Problem::new(format!("{at}.name"), "must not be empty"));
        } else if let Some(first) = seen.get(net.name.as_str()) {
            out.push(Problem::new(
                format!("{at}.name"),
                format!(
                    "duplicate network name {:?} (also networks[{first}])",
                    net.name
                ),
            ));
        } else if !is_label(&net.name) {
            out.push(Problem::new(
                format!("{at}.name"),
                format!(
                    "{:?} is not a lowercase DNS label (a-z, 0-9, '-'; it names the network's namespace)",
                    net.name
                ),
            ));
        } else {
            seen.insert(&net.name, i);
        }
        check_network(&at, net, networks, out);
    }
    check_api_key_files(networks, out);
}

/// One microdns instance has one API key: networks naming the same endpoint must name the
/// same key file (the client picks the key by endpoint).
fn check_api_key_files(networks: &[Network], out: &mut Vec<Problem>) {
    let mut first: HashMap<&str, (usize, &str)> = HashMap::new();
    for (i, net) in networks.iter().enumerate() {
        let endpoint = net.dns.endpoint_base();
        if endpoint.is_empty() {
            continue;
        }
        let file = net.dns.api_key_file.trim();
        match first.get(endpoint) {
            Some((j, other)) if *other != file => out.push(Problem::new(
                format!("networks[{i}].dns.apiKeyFile"),
                format!(
                    "networks[{j}] names the same microdns endpoint {endpoint} with {}; one endpoint has one key",
                    if other.is_empty() { "no key file".to_string() } else { format!("key file {other:?}") }
                ),
            )),
            Some(_) => {}
            None => {
                first.insert(endpoint, (i, file));
            }
        }
    }
}

fn check_network(at: &str, net: &Network, all: &[Network], out: &mut Vec<Problem>) {
    let subnet = match net.try_subnet() {
        Ok(s) if s.prefix_len() > 30 => {
            out.push(Problem::new(
                format!("{at}.cidr"),
                format!("{s} leaves no room for a gateway and an address pool (prefix must be /30 or shorter)"),
            ));
            None
        }
        Ok(s) => Some(s),
        Err(reason) => {
            out.push(Problem::new(format!("{at}.cidr"), reason));
            None
        }
    };
    let host = |field: &str, text: &str, out: &mut Vec<Problem>| {
        check_host(&format!("{at}.{field}"), text, subnet, out)
    };
    if !net.gateway.is_empty() {
        host("gateway", &net.gateway, out);
    }
    if net.vlan > 4094 {
        out.push(Problem::new(
            format!("{at}.vlan"),
            format!("{} is not a VLAN id (0–4094)", net.vlan),
        ));
    }
    let defaults = subnet.and(net.try_ipam_range().ok());
    let start = match net.ipam_start.as_str() {
        "" => defaults.map(|r| r.0),
        text => host("ipamStart", text, out),
    };
    let end = match net.ipam_end.as_str() {
        "" => defaults.map(|r| r.1),
        text => host("ipamEnd", text, out),
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        out.push(Problem::new(
            format!("{at}.ipamStart"),
            format!("{s} is after the end of the IPAM range {e}"),
        ));
    }

    let dns = &net.dns;
    if !dns.server.is_empty()
        && let Err(reason) = parse_ipv4(&dns.server)
    {
        out.push(Problem::new(format!("{at}.dns.server"), reason));
    }
    for (j, rec) in dns.static_records.iter().enumerate() {
        if rec.name.trim().is_empty() {
            out.push(Problem::new(
                format!("{at}.dns.staticRecords[{j}].name"),
                "must not be empty",
            ));
        }
        host(&format!("dns.staticRecords[{j}].ip"), &rec.ip, out);
    }

    check_dhcp(at, &dns.dhcp, subnet, all, out);
}

/// `dns.dhcp`: pool bounds, PXE next-server, relay target, reservations.
fn check_dhcp(
    at: &str,
    dhcp: &DhcpConfig,
    subnet: Option<Ipv4Net>,
    all: &[Network],
    out: &mut Vec<Problem>,
) {
    let range = |field: &str, text: &str, out: &mut Vec<Problem>| {
        if text.is_empty() {
            if dhcp.enabled {
                out.push(Problem::new(
                    format!("{at}.dns.dhcp.{field}"),
                    "required when dhcp.enabled is true",
                ));
            }
            None
        } else {
            check_host(&format!("{at}.dns.dhcp.{field}"), text, subnet, out)
        }
    };
    let (rs, re) = (
        range("rangeStart", &dhcp.range_start, out),
        range("rangeEnd", &dhcp.range_end, out),
    );
    if let (Some(s), Some(e)) = (rs, re)
        && s > e
    {
        out.push(Problem::new(
            format!("{at}.dns.dhcp.rangeStart"),
            format!("{s} is after rangeEnd {e}"),
        ));
    }
    if !dhcp.next_server.is_empty()
        && let Err(reason) = parse_ipv4(&dhcp.next_server)
    {
        out.push(Problem::new(format!("{at}.dns.dhcp.nextServer"), reason));
    }
    if !dhcp.server_network.is_empty() && !all.iter().any(|n| n.name == dhcp.server_network) {
        out.push(Problem::new(
            format!("{at}.dns.dhcp.serverNetwork"),
            format!("{:?} names no configured network", dhcp.server_network),
        ));
    }
    for (k, res) in dhcp.reservations.iter().enumerate() {
        if !is_mac(&res.mac) {
            out.push(Problem::new(
                format!("{at}.dns.dhcp.reservations[{k}].mac"),
                format!(
                    "{:?} is not a MAC address (six hex pairs separated by ':' or '-')",
                    res.mac
                ),
            ));
        }
        check_host(
            &format!("{at}.dns.dhcp.reservations[{k}].ip"),
            &res.ip,
            subnet,
            out,
        );
    }
}

/// Parses `text` and checks it is a host address of `subnet` (when known).
fn check_host(
    field: &str,
    text: &str,
    subnet: Option<Ipv4Net>,
    out: &mut Vec<Problem>,
) -> Option<Ipv4Addr> {
    let ip = match parse_ipv4(text) {
        Ok(ip) => ip,
        Err(reason) => {
            out.push(Problem::new(field, reason));
            return None;
        }
    };
    let subnet = subnet?;
    let reason = if !subnet.contains(&ip) {
        format!("{ip} is outside subnet {subnet}")
    } else if ip == subnet.network() {
        format!("{ip} is the network address of {subnet}")
    } else if ip == subnet.broadcast() {
        format!("{ip} is the broadcast address of {subnet}")
    } else {
        return Some(ip);
    };
    out.push(Problem::new(field, reason));
    None
}

/// RFC 1123 label: what a Kubernetes namespace name may be.
fn is_label(text: &str) -> bool {
    text.len() <= 63
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Six hex pairs separated consistently by `:` or `-`.
fn is_mac(text: &str) -> bool {
    let sep = if text.contains(':') { ':' } else { '-' };
    let parts: Vec<&str> = text.split(sep).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_nats(cfg: &Config, out: &mut Vec<Problem>) {
    let nats = &cfg.nats;
    if nats.snapshot_every == 0 {
        out.push(Problem::new("nats.snapshotEvery", "must be at least 1"));
    }
    if nats.stream.is_empty()
        || nats
            .stream
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        out.push(Problem::new(
            "nats.stream",
            format!("{:?} is not a JetStream stream name", nats.stream),
        ));
    }
}

fn check_api(cfg: &Config, out: &mut Vec<Problem>) {
    let api = &cfg.api;
    if api.listen.parse::<SocketAddr>().is_err() {
        out.push(Problem::new(
            "api.listen",
            format!(
                "{:?} is not a socket address (host:port, e.g. 127.0.0.1:8082)",
                api.listen
            ),
        ));
    }
    match (api.tls_cert.is_empty(), api.tls_key.is_empty()) {
        (false, true) => out.push(Problem::new(
            "api.tlsKey",
            "required when api.tlsCert is set",
        )),
        (true, false) => out.push(Problem::new(
            "api.tlsCert",
            "required when api.tlsKey is set",
        )),
        _ => {}
    }
}

/// `consistency.*`: a fraction in (0, 1] and finite, non-negative durations (a deadline of 0
/// would end every pass before it began).
fn check_consistency(cfg: &Config, out: &mut Vec<Problem>) {
    let c = &cfg.consistency;
    let f = c.max_reap_fraction;
    if !(f.is_finite() && f > 0.0 && f <= 1.0) {
        out.push(Problem::new(
            "consistency.maxReapFraction",
            format!("{f} is not a fraction in (0, 1]"),
        ));
    }
    if !(c.pass_deadline_seconds.is_finite() && c.pass_deadline_seconds > 0.0) {
        out.push(Problem::new(
            "consistency.passDeadlineSeconds",
            format!(
                "{} must be a positive number of seconds",
                c.pass_deadline_seconds
            ),
        ));
    }
    for (field, v) in [
        ("consistency.delaySeconds", c.delay_seconds),
        ("consistency.reportMaxAgeSeconds", c.report_max_age_seconds),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            out.push(Problem::new(
                field,
                format!("{v} must be zero or a positive number of seconds"),
            ));
        }
    }
}
