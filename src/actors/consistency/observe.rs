//! One computation of the report: the published folds first (an observation is never older
//! than what it is held against), then the device's tables (one read each,
//! `RosClient::snapshot`) and one list per DNS zone, concurrently, under the pass deadline;
//! then the pure `report::build`.

use super::manifest::ManifestView;
use super::report::{self, Report, ReportFacts};
use super::state::ConsistencyState;
use super::{Deps, Settings};
use crate::actors::dns::ListZones;
use crate::routeros::{DeviceSnapshot, SnapshotOptions};
use chrono::Utc;

pub(super) async fn compute(
    deps: &Deps,
    settings: &Settings,
    counters: &ConsistencyState,
    nats_connected: bool,
) -> Report {
    let at = Utc::now();
    let pods = deps.pods_view.read(&deps.pods).await.ok();
    let ipam = deps.ipam_view.read(&deps.ipam).await.ok();
    let manifest = ManifestView::read(&deps.config);
    let zones = async { deps.dns.send(ListZones).await.unwrap_or_default() };
    let (device, zones) = futures::join!(read_device(deps, settings), zones);
    let (pods, ipam) = (
        pods.map(|s| s.state).unwrap_or_default(),
        ipam.map(|s| s.state).unwrap_or_default(),
    );
    let facts = ReportFacts {
        config: &deps.config,
        manifest: &manifest,
        pods: &pods,
        ipam: &ipam,
        device: device.as_ref().map_err(String::as_str),
        zones: &zones,
        counters,
        mode: settings.mode,
        nats_connected,
        max_fraction: settings.max_fraction,
    };
    report::build(&facts, at)
}

/// One bulk read of the device (containers, veths, bridge ports), or why there is none.
pub(super) async fn read_device(
    deps: &Deps,
    settings: &Settings,
) -> Result<DeviceSnapshot, String> {
    let Some(link) = &deps.device else {
        return Err("no RouterOS device: the device engine runs in standalone mode only".into());
    };
    let read = async {
        let ros = link
            .get()
            .await
            .map_err(|e| format!("device unreachable: {e}"))?;
        ros.snapshot(SnapshotOptions::default())
            .await
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(settings.deadline, read)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", settings.deadline)))
}
