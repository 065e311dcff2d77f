//! The pass's steps that do not touch the device: DS-6 ConfigMaps (the boot manifest's, then
//! those generated from the config, §8.3) before the pods are worked on, and the DNS zones
//! (§5 steps 6–7, DNS-1) after, from the pods' state as the workers left it.

use crate::actors::configmaps::ConfigMapsActor;
use crate::actors::configmaps::defaults::apply_defaults;
use crate::actors::dns::{DnsActor, DnsPassReport, SyncZones};
use crate::actors::pods::PodsActor;
use crate::actors::pods::state::PodsState;
use crate::actors::published::Published;
use crate::config::Config;
use actix::Addr;
use k8s_openapi::api::core::v1::ConfigMap;

/// Where the pass's non-device results go.
#[derive(Clone)]
pub struct Outputs {
    pub dns: Addr<DnsActor>,
    pub configmaps: Addr<ConfigMapsActor>,
}

/// DS-6: returns how many ConfigMaps were written (0 when nothing changed).
pub async fn config_maps(config: &Config, manifest: Vec<ConfigMap>, out: &Outputs) -> usize {
    apply_defaults(config, manifest, &out.configmaps).await
}

/// §5 steps 6–7: every managed zone synced with the pods' names and the config's.
pub async fn dns(
    pods: &Addr<PodsActor>,
    pods_view: &Published<PodsState>,
    out: &Outputs,
    correlation: &str,
) -> Option<DnsPassReport> {
    let snapshot = pods_view.read(pods).await.ok()?;
    let sync = SyncZones {
        pods: snapshot.state,
        correlation: correlation.to_string(),
    };
    let report = out.dns.send(sync).await.ok()?;
    for zone in report.zones.iter().filter(|z| z.error.is_some()) {
        tracing::warn!(network = %zone.network, zone = %zone.zone, error = ?zone.error, "RECONCILE: DNS zone not synced");
    }
    Some(report)
}
