//! What one pod container must look like on the device (§3.1 steps 3–6), decided from the
//! spec, the configuration, the address and the image. Pure, so it is unit-tested and the
//! worker only performs it.

use super::JobError;
use crate::config::{Config, Network};
use crate::pod::{annotations, names};
use crate::routeros::{Container, ContainerSpec, ImageSource, MountSpec, normalize_path};
use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;

/// Admission-time checks the engine repeats (it also runs manifest pods): IPAM-8 [D] — a
/// static IP is only for single-container pods; every container needs an image unless the
/// pod names a device tarball.
pub fn check(pod: &Pod) -> Result<(), JobError> {
    let containers = pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    let static_ip = annotations::static_ip(pod).map_err(JobError::Spec)?;
    if static_ip.is_some() && containers > 1 {
        return Err(JobError::StaticIpShared { containers });
    }
    Ok(())
}

/// User `0:0` when the network serves DHCP (§3.1 step 6): locally with DHCP enabled and no
/// relay, or as another network's relay target.
fn serves_dhcp(config: &Config, net: &Network) -> bool {
    let dhcp = &net.dns.dhcp;
    (dhcp.enabled && dhcp.server_network.is_empty())
        || config
            .networks
            .iter()
            .any(|n| n.name != net.name && n.dns.dhcp.server_network == net.name)
}

/// One container's device plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPlan {
    pub spec: ContainerSpec,
    /// NAME-5 directories to provision and mount.
    pub mounts: Vec<MountSpec>,
    /// The resolved environment (`pod::env`), the entries of env list NAME-3.
    pub envs: Vec<(String, String)>,
}

impl ContainerPlan {
    /// Sets the environment: an env list named after the container (like its mount list,
    /// NAME-3; routeros-rest §4.5), referenced by `envlists` only when it has entries.
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.spec.envlists = if env.is_empty() {
            Vec::new()
        } else {
            vec![self.spec.name.clone()]
        };
        self.envs = env;
    }
}

/// The `/container/add` properties of container `index` of `pod` (NAME-1, -3, -4, -5).
pub fn container_plan(
    config: &Config,
    pod: &Pod,
    index: usize,
    net: &Network,
    tarball: &str,
) -> Option<ContainerPlan> {
    let spec = pod.spec.as_ref()?;
    let c = spec.containers.get(index)?;
    let ns = crate::pod::namespace_of(&pod.metadata);
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let name = names::container_name(ns, pod_name, &c.name);
    let veth = names::veth_name(ns, pod_name, index);
    let base = &config.storage.base_path;
    let mounts: Vec<MountSpec> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| MountSpec::new(names::volume_dir(base, &name, &m.name), &m.mount_path))
        .collect();
    let mut s = ContainerSpec::new(
        &name,
        ImageSource::File(tarball.to_string()),
        veth,
        names::root_dir(base, &name),
    );
    if !mounts.is_empty() {
        s.mountlists = vec![name.clone()];
    }
    s.cmd = c.command.as_ref().map(|v| v.join(" ")).unwrap_or_default();
    s.hostname = pod_name.to_string();
    s.dns = net.dns.server.clone();
    s.logging = true;
    s.start_on_boot = spec.restart_policy.as_deref() == Some("Always");
    if serves_dhcp(config, net) {
        s.user = "0:0".into();
    }
    Some(ContainerPlan {
        spec: s,
        mounts,
        envs: Vec::new(),
    })
}

/// An existing row is adopted only if it is what this plan would create (same veth, root
/// dir, image file, command, env list and start-on-boot); anything else with the name is
/// stale and replaced (§3.1 step 0).
pub fn adoptable(row: &Container, spec: &ContainerSpec) -> bool {
    let file = match &spec.image {
        ImageSource::File(f) => f.as_str(),
        ImageSource::Remote { .. } => return false,
    };
    row.interface == spec.interface
        && normalize_path(&row.root_dir) == normalize_path(&spec.root_dir)
        && normalize_path(&row.file) == normalize_path(file)
        && row.cmd == spec.cmd
        && row.envlists == spec.envlists
        && row.start_on_boot == spec.start_on_boot
}

/// `ip/prefix` on the network's subnet.
pub fn cidr(net: &Network, ip: Ipv4Addr) -> String {
    format!("{ip}/{}", net.subnet().prefix_len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::sample::SamplePod;

    fn pod() -> Pod {
        SamplePod::new("infra", "nats")
            .container_name("nats")
            .command(&["/nats-server", "-m", "8222"])
            .volume("data", "/data")
            .restart_policy("Always")
            .build()
    }

    #[test]
    fn plan_follows_name_rules() {
        let config = Config::default();
        let net = &config.networks[0];
        let p = container_plan(&config, &pod(), 0, net, "raid1/cache/nats.tar").unwrap();
        assert_eq!(p.spec.name, "infra_nats_nats");
        assert_eq!(p.spec.interface, "veth_infra_nats_0");
        assert_eq!(p.spec.root_dir, "/raid1/images/infra_nats_nats");
        assert_eq!(p.spec.mountlists, vec!["infra_nats_nats".to_string()]);
        assert_eq!(p.spec.cmd, "/nats-server -m 8222");
        assert_eq!(p.spec.hostname, "nats");
        assert_eq!(p.spec.dns, net.dns.server);
        assert!(p.spec.start_on_boot && p.spec.logging);
        assert_eq!(
            p.mounts,
            vec![MountSpec::new(
                "/raid1/volumes/infra_nats_nats/data",
                "/data"
            )]
        );
    }

    #[test]
    fn static_ip_only_for_one_container() {
        let mut p = pod();
        p.metadata.annotations = Some(
            [(
                annotations::ANN_STATIC_IP.to_string(),
                "10.0.0.5".to_string(),
            )]
            .into_iter()
            .collect(),
        );
        assert!(check(&p).is_ok());
        let extra = p.spec.as_ref().unwrap().containers[0].clone();
        p.spec.as_mut().unwrap().containers.push(extra);
        assert!(check(&p).is_err());
    }
}
