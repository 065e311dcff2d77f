//! `infra/mkube-console-config` (§8.3): where the console finds mkube and the registry.

use crate::config::Config;
use std::net::Ipv4Addr;

pub const CONSOLE_KEY: &str = "config.yaml";

/// The console's YAML. mkube and the registry are taken to sit at the first network's gateway
/// plus one in the last octet (the deploy convention: gateway .1, mkube .2).
pub fn console_config_yaml(config: &Config) -> String {
    let host = config
        .default_network()
        .and_then(|n| n.try_gateway_ip().ok())
        .map(next_in_last_octet)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    format!(
        "cluster_name: {name}\nlisten_port: 9090\n\nmkube:\n  base_url: \"http://{host}:8082\"\n\nregistry:\n  base_url: \"http://{host}:5000\"\n",
        name = yaml_scalar(&config.node_name),
    )
}

fn next_in_last_octet(gateway: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, d] = gateway.octets();
    Ipv4Addr::new(a, b, c, d.wrapping_add(1))
}

/// A node name as a YAML scalar: plain when it is a simple word, quoted otherwise.
fn yaml_scalar(text: &str) -> String {
    let keyword = matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null"
    );
    let plain = !keyword
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}
