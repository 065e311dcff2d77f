//! CC-2 (microdns-api.md R11): each network zone's A records against the names mkube
//! expects there (the dns actor's own expectation, `dns::expected::zone_want`: pod, container
//! and alias names of the desired pods with addresses, then static records, reservations,
//! `rose1` and `dns`). Every other name is a stale record (warn); the pass deletes only those
//! mkube registered (L-8).

use super::ReportFacts;
use crate::actors::checks::Check;
use crate::actors::dns::ZoneListing;
use crate::actors::dns::expected::zone_want;
use std::net::Ipv4Addr;

/// `[a b]`, as §6.1's details print address lists.
fn list(ips: &[Ipv4Addr]) -> String {
    let text: Vec<String> = ips.iter().map(Ipv4Addr::to_string).collect();
    format!("[{}]", text.join(" "))
}

pub(super) fn zones(f: &ReportFacts) -> Vec<Check> {
    let mut out = Vec::new();
    for (net, listing) in f.zones {
        let zone_item = format!("dns-zone/{net}");
        let a = match listing {
            ZoneListing::External => {
                out.push(Check::pass(
                    zone_item,
                    "external DNS (zone init deferred)",
                    "",
                ));
                continue;
            }
            ZoneListing::NoZoneId => {
                out.push(Check::warn(
                    zone_item,
                    "zone ID not cached (DNS may not be initialized)",
                    "",
                ));
                continue;
            }
            ZoneListing::Failed(e) => {
                out.push(Check::fail(
                    zone_item,
                    format!("DNS endpoint unreachable: {e}"),
                    "",
                ));
                continue;
            }
            ZoneListing::Listed { a, .. } => a,
        };
        let Some(network) = f.config.network_named(net) else {
            continue;
        };
        let want = zone_want(f.config, network, f.pods).records;
        for (name, w) in &want {
            let label = format!("dns/{net}/{name}");
            let got = a.get(name).map(Vec::as_slice).unwrap_or_default();
            out.push(if got.is_empty() {
                Check::fail(
                    label,
                    "DNS record missing",
                    format!("expected A record -> {}", w.ip),
                )
            } else if !got.contains(&w.ip) {
                Check::fail(
                    label,
                    "DNS record has wrong IP",
                    format!("expected={} actual={}", w.ip, list(got)),
                )
            } else {
                Check::pass(label, "record correct", format!("ip={}", w.ip))
            });
        }
        for (name, ips) in a.iter().filter(|(n, _)| !want.contains_key(*n)) {
            out.push(Check::warn(
                format!("dns/{net}/{name}"),
                "stale DNS record",
                format!("ips={}", list(ips)),
            ));
        }
    }
    out
}
