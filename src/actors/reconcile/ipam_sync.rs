//! §5 step 4 (IPAM resync) with the [D] fixes: before the pass decides anything, IPAM learns
//! the desired pods' static addresses (IPAM-7: reserved before any dynamic allocation), their
//! `<container>.<pod>` hostnames (NAME-10 [D]) and the addresses the device's veths actually
//! carry (IPAM-5/IPAM-6: the device wins).

use crate::actors::ipam::{IpamActor, ReserveStatics, SetDesiredHostnames, SyncObserved};
use crate::actors::pods::state::PodsState;
use crate::config::Config;
use crate::pod::{annotations, names};
use crate::routeros::Veth;
use actix::prelude::*;

/// `(veth, network, address)` of every desired single-container pod with `vkube.io/static-ip`
/// (IPAM-8: admission rejects static IPs on multi-container pods).
pub fn statics(state: &PodsState, config: &Config) -> Vec<(String, String, std::net::Ipv4Addr)> {
    let first_network = config.networks.first().map(|n| n.name.as_str());
    state
        .pods
        .values()
        .filter_map(|d| {
            let pod = &d.pod;
            let ip = annotations::static_ip(pod).ok()??;
            let network = annotations::network(pod).or(first_network)?.to_string();
            let veth = names::veth_names(pod).into_iter().next()?;
            Some((veth, network, ip))
        })
        .collect()
}

/// `(veth, "<container>.<pod>")` of every desired pod's containers.
pub fn hostnames(state: &PodsState) -> Vec<(String, String)> {
    state
        .pods
        .values()
        .flat_map(|d| {
            let pod = &d.pod;
            let name = pod.metadata.name.clone().unwrap_or_default();
            let containers: Vec<String> = pod
                .spec
                .as_ref()
                .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default();
            names::veth_names(pod)
                .into_iter()
                .zip(containers)
                .map(move |(veth, c)| (veth, format!("{c}.{name}")))
        })
        .collect()
}

/// Tells IPAM the desired set, then syncs it with the observed veths. Appends events only for
/// differences (a quiet pass appends nothing).
pub async fn resync(
    ipam: &Addr<IpamActor>,
    state: &PodsState,
    config: &Config,
    veths: &[Veth],
) -> Result<(), String> {
    let gone = |e: MailboxError| format!("ipam actor: {e}");
    ipam.send(ReserveStatics {
        desired: statics(state, config),
    })
    .await
    .map_err(gone)?;
    ipam.send(SetDesiredHostnames {
        hostnames: hostnames(state),
    })
    .await
    .map_err(gone)?;
    let observed = veths
        .iter()
        .map(|v| (v.name.clone(), v.address.clone()))
        .collect();
    let report = ipam
        .send(SyncObserved { veths: observed })
        .await
        .map_err(gone)?
        .map_err(|e| e.to_string())?;
    if report.appended > 0 {
        tracing::info!(recorded = report.appended, "RECONCILE: step 4 IPAM resync");
    }
    Ok(())
}
