//! The soak's verdicts on one observation: lost writes, duplicates, leaks, and what still
//! keeps the site from having converged.

use super::config::NAMESPACE;
use super::ledger::{Kind, Ledger, Promise};
use super::observe::{Observed, Row};
use super::workload::{CONTAINER, configmap_of};
use std::collections::{BTreeMap, BTreeSet};

/// NAME-1: the device container of a pod's container.
pub fn container_name(pod: &str) -> String {
    format!("{NAMESPACE}_{pod}_{CONTAINER}")
}

/// NAME-2 (upstream 15-character variant): the pod's first veth.
pub fn veth_name(pod: &str) -> String {
    let cut = |s: &str| s.chars().take(15).collect::<String>();
    format!("veth_{}_{}_0", cut(NAMESPACE), cut(pod))
}

fn field<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key).map(String::as_str).unwrap_or("")
}

/// The pods that are desired: shown by the API and not being deleted.
pub fn desired(o: &Observed) -> BTreeSet<String> {
    o.pods
        .iter()
        .filter(|(_, p)| !p.deleting)
        .map(|(n, _)| n.clone())
        .collect()
}

/// Acknowledged writes whose promise the end does not show (each a line saying how).
pub fn lost(ledger: &Ledger, o: &Observed) -> Vec<String> {
    let on_device: BTreeSet<&str> = o.containers.iter().map(|c| field(c, "name")).collect();
    let mut out = Vec::new();
    for (kind, name, promise) in ledger.checkable() {
        match (kind, promise) {
            (Kind::Pod, Promise::Pod { generation }) => match o.pods.get(name) {
                None => out.push(format!("pod {name}: acknowledged GEN={generation}, absent")),
                Some(p) if p.deleting => out.push(format!(
                    "pod {name}: acknowledged GEN={generation}, being deleted"
                )),
                Some(p) if p.generation != Some(*generation) => out.push(format!(
                    "pod {name}: acknowledged GEN={generation}, API shows {:?}",
                    p.generation
                )),
                Some(_) if !on_device.contains(container_name(name).as_str()) => out.push(format!(
                    "pod {name}: GEN={generation} but no device container"
                )),
                Some(_) => {}
            },
            (Kind::Pod, Promise::Absent) => {
                if o.pods.contains_key(name) {
                    out.push(format!(
                        "pod {name}: acknowledged delete, API still shows it"
                    ));
                } else if on_device.contains(container_name(name).as_str()) {
                    out.push(format!(
                        "pod {name}: acknowledged delete, device container left"
                    ));
                }
            }
            (Kind::ConfigMap, Promise::ConfigMap { value }) => match o.configmaps.get(name) {
                Some(v) if v == value => {}
                got => out.push(format!(
                    "configmap {name}: acknowledged v={value}, API shows {got:?}"
                )),
            },
            (kind, promise) => out.push(format!("{kind:?} {name}: unexpected promise {promise:?}")),
        }
    }
    out
}

/// Two device containers for one pod container: the same name twice, or two containers of
/// mkube's on one veth.
pub fn duplicates(o: &Observed) -> Vec<String> {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_veth: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in &o.containers {
        let name = field(c, "name");
        *by_name.entry(name).or_default() += 1;
        let interface = field(c, "interface");
        if !interface.is_empty() {
            by_veth.entry(interface).or_default().push(name);
        }
    }
    let names = by_name
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, n)| format!("container {name}: {n} rows"));
    let veths = by_veth
        .into_iter()
        .filter(|(_, cs)| cs.len() > 1)
        .map(|(veth, cs)| format!("veth {veth}: used by {}", cs.join(", ")));
    names.chain(veths).collect()
}

/// mkube's objects no desired pod owns: containers, veths, bridge ports, IPAM entries,
/// mount and env entries, DNS records.
pub fn leaks(o: &Observed) -> Vec<String> {
    let want = desired(o);
    let containers: BTreeSet<String> = want.iter().map(|p| container_name(p)).collect();
    let veths: BTreeSet<String> = want.iter().map(|p| veth_name(p)).collect();
    let prefix_c = format!("{NAMESPACE}_");
    let prefix_v = format!("veth_{NAMESPACE}_");
    let mut out = Vec::new();
    let mut unowned = |what: &str, name: &str, owners: &BTreeSet<String>, prefix: &str| {
        if name.starts_with(prefix) && !owners.contains(name) {
            out.push(format!("{what} {name}"));
        }
    };
    for c in &o.containers {
        unowned("container", field(c, "name"), &containers, &prefix_c);
    }
    for v in &o.veths {
        unowned("veth", field(v, "name"), &veths, &prefix_v);
    }
    for p in &o.ports {
        unowned("bridge port", field(p, "interface"), &veths, &prefix_v);
    }
    for veth in o.allocations.keys() {
        unowned("IPAM entry", veth, &veths, &prefix_v);
    }
    for m in &o.mounts {
        unowned("mount entry", field(m, "list"), &containers, &prefix_c);
    }
    for e in &o.envs {
        unowned("env entry", field(e, "list"), &containers, &prefix_c);
    }
    out.extend(dangling_ports(o));
    out.extend(dns_leaks(o, &want));
    out
}

/// Bridge ports whose interface no longer exists (a reboot or a removed veth leaves them).
fn dangling_ports(o: &Observed) -> Vec<String> {
    let veths: BTreeSet<&str> = o.veths.iter().map(|v| field(v, "name")).collect();
    o.ports
        .iter()
        .map(|p| field(p, "interface"))
        .filter(|i| i.starts_with("veth_") && !veths.contains(i))
        .map(|i| format!("dangling bridge port {i}"))
        .collect()
}

/// A record of a pod's name (`<pod>`, `<container>.<pod>`) no desired pod owns, or a second
/// record of a desired pod's name.
fn dns_leaks(o: &Observed, want: &BTreeSet<String>) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, ip) in &o.dns {
        let pod = name.strip_prefix(&format!("{CONTAINER}.")).unwrap_or(name);
        if matches!(name.as_str(), "rose1" | "dns") {
            continue;
        }
        if !want.contains(pod) {
            out.push(format!("DNS record {name} -> {ip}"));
        }
        *seen.entry(name).or_default() += 1;
    }
    out.extend(
        seen.into_iter()
            .filter(|(n, c)| *c > 1 && want.contains(n.strip_prefix("app.").unwrap_or(n)))
            .map(|(n, c)| format!("DNS name {n}: {c} A records")),
    );
    out
}

/// What still differs from a converged site: each desired pod running on the device with its
/// veth, IPAM address, DNS names and the registry's current image; the consistency report
/// without failures.
pub fn not_converged(o: &Observed, image_digest: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for pod in desired(o) {
        if let Err(why) = pod_converged(o, &pod, image_digest) {
            out.push(format!("pod {pod}: {why}"));
        }
    }
    let deleting = o.pods.iter().filter(|(_, p)| p.deleting);
    out.extend(deleting.map(|(n, _)| format!("pod {n}: still being deleted")));
    out.extend(
        o.consistency_failures
            .iter()
            .map(|f| format!("consistency {f}")),
    );
    out
}

fn pod_converged(o: &Observed, pod: &str, image_digest: Option<&str>) -> Result<(), String> {
    let p = &o.pods[pod];
    if p.phase != "Running" {
        return Err(format!("phase {:?}", p.phase));
    }
    let name = container_name(pod);
    let c = o
        .containers
        .iter()
        .find(|c| field(c, "name") == name)
        .ok_or("no device container")?;
    if field(c, "running") != "true" {
        return Err("device container not running".into());
    }
    let veth = veth_name(pod);
    if field(c, "interface") != veth {
        return Err(format!(
            "container on {:?}, not {veth}",
            field(c, "interface")
        ));
    }
    let ip = o.allocations.get(&veth).ok_or("no IPAM entry")?;
    let v = o
        .veths
        .iter()
        .find(|v| field(v, "name") == veth)
        .ok_or("no veth on the device")?;
    if field(v, "address").split('/').next() != Some(ip.as_str()) {
        return Err(format!("veth address {:?}, IPAM {ip}", field(v, "address")));
    }
    if &p.pod_ip != ip {
        return Err(format!("podIP {:?}, IPAM {ip}", p.pod_ip));
    }
    for dns_name in [pod.to_string(), format!("{CONTAINER}.{pod}")] {
        if !o.dns.iter().any(|(n, a)| *n == dns_name && a == ip) {
            return Err(format!("no DNS record {dns_name} -> {ip}"));
        }
    }
    if let Some(digest) = image_digest
        && p.image_id != digest
    {
        return Err(format!("image {}, registry serves {digest}", p.image_id));
    }
    configmap_file_matches(o, pod)
}

/// The pod's ConfigMap volume holds the ConfigMap's current value (or nothing without one).
fn configmap_file_matches(o: &Observed, pod: &str) -> Result<(), String> {
    let index = pod.strip_prefix('p').and_then(|i| i.parse::<usize>().ok());
    let Some(index) = index else {
        return Ok(());
    };
    let want = o.configmaps.get(&configmap_of(index));
    let have = o.configmap_files.get(pod).cloned().flatten();
    if want != have.as_ref() {
        return Err(format!(
            "ConfigMap file holds {have:?}, {} is {want:?}",
            configmap_of(index)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::ledger::Answer;
    use crate::soak::observe::ApiPod;

    fn row(pairs: &[(&str, &str)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// One converged pod `p0` (GEN=2) at 127.46.0.100 on image `sha256:a`.
    fn converged() -> Observed {
        let pod = ApiPod {
            generation: Some(2),
            deleting: false,
            phase: "Running".into(),
            pod_ip: "127.46.0.100".into(),
            image_id: "sha256:a".into(),
        };
        Observed {
            pods: [("p0".to_string(), pod)].into(),
            allocations: [("veth_soak_p0_0".to_string(), "127.46.0.100".to_string())].into(),
            containers: vec![row(&[
                ("name", "soak_p0_app"),
                ("interface", "veth_soak_p0_0"),
                ("running", "true"),
            ])],
            veths: vec![row(&[
                ("name", "veth_soak_p0_0"),
                ("address", "127.46.0.100/24"),
            ])],
            ports: vec![row(&[("interface", "veth_soak_p0_0")])],
            mounts: vec![row(&[("list", "soak_p0_app")])],
            configmaps: [("cm0".to_string(), "v1".to_string())].into(),
            configmap_files: [("p0".to_string(), Some("v1".to_string()))].into(),
            dns: vec![
                ("p0".into(), "127.46.0.100".into()),
                ("app.p0".into(), "127.46.0.100".into()),
                ("rose1".into(), "127.46.0.1".into()),
            ],
            ..Observed::default()
        }
    }

    #[test]
    fn a_converged_site_has_no_findings() {
        let o = converged();
        assert_eq!(not_converged(&o, Some("sha256:a")), Vec::<String>::new());
        assert!(leaks(&o).is_empty());
        assert!(duplicates(&o).is_empty());
    }

    #[test]
    fn every_kind_of_leak_is_found() {
        let mut o = converged();
        o.containers.push(row(&[("name", "soak_p9_app")]));
        o.veths.push(row(&[("name", "veth_soak_p9_0")]));
        o.ports.push(row(&[("interface", "veth_soak_p8_0")]));
        o.allocations
            .insert("veth_soak_p7_0".into(), "127.46.0.101".into());
        o.mounts.push(row(&[("list", "soak_p6_app")]));
        o.envs.push(row(&[("list", "soak_p5_app")]));
        o.dns.push(("p4".into(), "127.46.0.102".into()));
        let found = leaks(&o);
        for what in [
            "container soak_p9_app",
            "veth veth_soak_p9_0",
            "bridge port veth_soak_p8_0",
            "dangling bridge port veth_soak_p8_0",
            "IPAM entry veth_soak_p7_0",
            "mount entry soak_p6_app",
            "env entry soak_p5_app",
            "DNS record p4 -> 127.46.0.102",
        ] {
            assert!(found.iter().any(|f| f == what), "{what} not in {found:?}");
        }
    }

    #[test]
    fn two_containers_for_one_pod_container_are_duplicates() {
        let mut o = converged();
        o.containers.push(o.containers[0].clone());
        assert_eq!(duplicates(&o).len(), 2, "{:?}", duplicates(&o));
    }

    #[test]
    fn an_acknowledged_write_the_end_does_not_show_is_lost() {
        let o = converged();
        let mut l = Ledger::default();
        l.record(
            Kind::Pod,
            "p0",
            Promise::Pod { generation: 3 },
            Answer::Acked,
        );
        l.record(
            Kind::Pod,
            "p1",
            Promise::Pod { generation: 4 },
            Answer::Acked,
        );
        l.record(
            Kind::ConfigMap,
            "cm0",
            Promise::ConfigMap { value: "v5".into() },
            Answer::Acked,
        );
        assert_eq!(lost(&l, &o).len(), 3);
        let mut l = Ledger::default();
        l.record(Kind::Pod, "p0", Promise::Absent, Answer::Acked);
        assert_eq!(lost(&l, &o).len(), 1);
    }

    #[test]
    fn a_pod_off_its_image_or_address_has_not_converged() {
        let o = converged();
        assert_eq!(not_converged(&o, Some("sha256:b")).len(), 1);
        let mut o = converged();
        o.dns.retain(|(n, _)| n != "app.p0");
        assert_eq!(not_converged(&o, None).len(), 1);
        let mut o = converged();
        o.configmaps.insert("cm0".into(), "v2".into());
        assert_eq!(not_converged(&o, None).len(), 1);
        let mut o = converged();
        o.consistency_failures.push("repair/guard: refused".into());
        assert_eq!(not_converged(&o, None).len(), 1);
    }
}
