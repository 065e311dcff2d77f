//! What one zone needs (R5, R8, R10 with L-8): the diff between the records mkube wants, the
//! records the server lists, and the names mkube registered itself. Pure.
//!
//! - An expected name without a record of its address is created.
//! - A later copy of the same (name, address) is a duplicate and is deleted (R8).
//! - A record of an expected name with another address is deleted (R5); mkube owns the names
//!   it expects.
//! - A name mkube registered and no longer expects is deleted; names mkube never registered
//!   (a user's records, microdns's own DHCP names) are left alone (L-8).
//! - Non-A records are never touched.

use super::expected::Want;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// A record as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub rtype: String,
    pub value: String,
    pub ttl: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZonePlan {
    pub create: Vec<(String, Want)>,
    /// (record id, name, address).
    pub delete: Vec<(String, String, Ipv4Addr)>,
    /// Expected records found on the server that the log does not yet hold as registered
    /// (after a crash between the write and its event, or a record that was already there).
    pub adopt: Vec<(String, Ipv4Addr, String, u32)>,
    /// Registered records the server no longer has and nobody wants: bookkeeping only.
    pub forget: Vec<(String, Ipv4Addr)>,
}

impl ZonePlan {
    pub fn writes(&self) -> usize {
        self.create.len() + self.delete.len()
    }
}

/// `registered`: name → address → record id, as the dns actor recorded them.
pub fn plan_zone(
    want: &BTreeMap<String, Want>,
    observed: &[Observed],
    registered: &BTreeMap<String, BTreeMap<Ipv4Addr, String>>,
) -> ZonePlan {
    let mut plan = ZonePlan::default();
    let mut seen: BTreeSet<(String, Ipv4Addr)> = BTreeSet::new();
    for rec in observed
        .iter()
        .filter(|r| r.rtype.eq_ignore_ascii_case("A"))
    {
        let Ok(ip) = rec.value.trim().parse::<Ipv4Addr>() else {
            continue;
        };
        let pair = (rec.name.clone(), ip);
        let keep = match want.get(&rec.name) {
            Some(w) => w.ip == ip,
            None => !registered.contains_key(&rec.name),
        };
        if !keep || seen.contains(&pair) {
            plan.delete.push((rec.id.clone(), rec.name.clone(), ip));
            continue;
        }
        seen.insert(pair);
        let recorded_id = registered.get(&rec.name).and_then(|ips| ips.get(&ip));
        if want.contains_key(&rec.name) && recorded_id != Some(&rec.id) {
            plan.adopt
                .push((rec.name.clone(), ip, rec.id.clone(), rec.ttl));
        }
    }
    for (name, w) in want {
        if !seen.contains(&(name.clone(), w.ip)) {
            plan.create.push((name.clone(), *w));
        }
    }
    let deleted: BTreeSet<(String, Ipv4Addr)> = plan
        .delete
        .iter()
        .map(|(_, n, ip)| (n.clone(), *ip))
        .collect();
    for (name, ips) in registered {
        for ip in ips.keys() {
            let pair = (name.clone(), *ip);
            let wanted = want.get(name).is_some_and(|w| w.ip == *ip);
            if !seen.contains(&pair) && !deleted.contains(&pair) && !wanted {
                plan.forget.push(pair);
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: &str, name: &str, ip: &str) -> Observed {
        Observed {
            id: id.into(),
            name: name.into(),
            rtype: "A".into(),
            value: ip.into(),
            ttl: 60,
        }
    }

    fn want(pairs: &[(&str, &str)]) -> BTreeMap<String, Want> {
        pairs
            .iter()
            .map(|(n, ip)| {
                (
                    n.to_string(),
                    Want {
                        ip: ip.parse().unwrap(),
                        ttl: 60,
                        kind: "pod",
                    },
                )
            })
            .collect()
    }

    fn reg(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, BTreeMap<Ipv4Addr, String>> {
        let mut out: BTreeMap<String, BTreeMap<Ipv4Addr, String>> = BTreeMap::new();
        for (n, ip, id) in pairs {
            out.entry(n.to_string())
                .or_default()
                .insert(ip.parse().unwrap(), id.to_string());
        }
        out
    }

    #[test]
    fn steady_zone_needs_nothing() {
        let p = plan_zone(
            &want(&[("web", "127.0.0.5")]),
            &[a("1", "web", "127.0.0.5")],
            &reg(&[("web", "127.0.0.5", "1")]),
        );
        assert_eq!(p, ZonePlan::default());
    }

    #[test]
    fn r5_ip_change_creates_new_and_deletes_old() {
        let p = plan_zone(
            &want(&[("web", "127.0.0.6")]),
            &[a("1", "web", "127.0.0.5")],
            &reg(&[("web", "127.0.0.5", "1")]),
        );
        assert_eq!(
            p.create,
            want(&[("web", "127.0.0.6")])
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            p.delete,
            vec![("1".into(), "web".into(), "127.0.0.5".parse().unwrap())]
        );
        assert!(p.forget.is_empty());
    }

    #[test]
    fn r8_duplicates_are_deleted_keeping_the_first() {
        let p = plan_zone(
            &want(&[("web", "127.0.0.5")]),
            &[a("1", "web", "127.0.0.5"), a("2", "web", "127.0.0.5")],
            &reg(&[("web", "127.0.0.5", "1")]),
        );
        assert_eq!(
            p.delete,
            vec![("2".into(), "web".into(), "127.0.0.5".parse().unwrap())]
        );
        assert!(p.create.is_empty() && p.adopt.is_empty());
    }

    #[test]
    fn l8_only_names_mkube_registered_are_cleaned() {
        let p = plan_zone(
            &want(&[]),
            &[
                a("1", "gone", "127.0.0.5"),
                a("2", "users-own", "127.0.0.9"),
            ],
            &reg(&[("gone", "127.0.0.5", "1")]),
        );
        assert_eq!(
            p.delete,
            vec![("1".into(), "gone".into(), "127.0.0.5".parse().unwrap())]
        );
    }

    #[test]
    fn wiped_server_is_repopulated_and_lost_records_forgotten() {
        let p = plan_zone(
            &want(&[("web", "127.0.0.5")]),
            &[],
            &reg(&[("web", "127.0.0.5", "1"), ("old", "127.0.0.7", "2")]),
        );
        assert_eq!(p.create.len(), 1);
        assert_eq!(p.forget, vec![("old".into(), "127.0.0.7".parse().unwrap())]);
    }

    #[test]
    fn existing_expected_record_is_adopted_not_rewritten() {
        let p = plan_zone(
            &want(&[("web", "127.0.0.5")]),
            &[a("9", "web", "127.0.0.5")],
            &reg(&[]),
        );
        assert_eq!(
            p.adopt,
            vec![("web".into(), "127.0.0.5".parse().unwrap(), "9".into(), 60)]
        );
        assert_eq!(p.writes(), 0);
    }

    #[test]
    fn non_a_records_and_unparsable_values_are_left_alone() {
        let mut txt = a("1", "web", "hello");
        txt.rtype = "TXT".into();
        let p = plan_zone(
            &want(&[]),
            &[txt, a("2", "x", "not-an-ip")],
            &reg(&[("web", "127.0.0.1", "5")]),
        );
        assert!(p.delete.is_empty());
    }
}
