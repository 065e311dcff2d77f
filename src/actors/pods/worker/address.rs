//! NET-1, address part: which IPv4 a container's veth gets, through IPAM's `Allocate`.

use super::Job;
use super::create::Create;
use crate::actors::ipam::pool::IpamError;
use crate::actors::ipam::{Allocate, AllocateError};
use crate::actors::pods::JobError;
use crate::actors::pods::decide::{self, Address};
use crate::pod::names;
use crate::routeros::RosClient;
use std::net::Ipv4Addr;

impl Job {
    /// NET-1, address part: the address `decide::address` wishes for (reading the device's
    /// veth when it says so); a wish IPAM refuses falls back to the next free address, and a
    /// static IP held by a stale key is freed once. Same-owner allocation is idempotent
    /// (IPAM-3 [F]).
    pub(super) async fn allocate(
        &self,
        ros: &RosClient,
        s: &Create<'_>,
        veth: &str,
        container: &str,
    ) -> Result<Ipv4Addr, JobError> {
        let wish = match decide::address(s.static_ip, s.rec, s.net, s.seen, veth) {
            Address::Ask(wish) => wish,
            Address::ReadVeth => {
                let found = ros.find_veth(veth).await.map_err(|e| JobError::ReadVeth {
                    veth: veth.to_string(),
                    source: Box::new(e),
                })?;
                decide::device_address(found.and_then(|v| v.ipv4()).as_deref(), s.net)
            }
        };
        let ask = |static_ip| Allocate {
            network: s.net.name.clone(),
            key: veth.to_string(),
            hostname: format!("{container}.{}", self.name),
            static_ip,
            correlation: self.correlation.clone(),
        };
        let first = self
            .deps
            .ipam
            .send(ask(wish))
            .await
            .map_err(JobError::actor("ipam"))?;
        let result = match first {
            Err(_) if s.static_ip.is_none() && wish.is_some() => self
                .deps
                .ipam
                .send(ask(None))
                .await
                .map_err(JobError::actor("ipam"))?,
            Err(AllocateError::Ipam(IpamError::Taken { holder, .. }))
                if s.static_ip.is_some() && self.stale_holder(ros, &holder, veth).await? =>
            {
                // §3.1 step 2 [F] / L-6: a stale holder (no desired pod's veth, not on the
                // device) is released and the allocation retried once.
                tracing::info!(%holder, %veth, "releasing stale holder of a static IP");
                self.release_ip(&s.net.name, &holder).await?;
                self.deps
                    .ipam
                    .send(ask(wish))
                    .await
                    .map_err(JobError::actor("ipam"))?
            }
            other => other,
        };
        result.map_err(|source| JobError::Allocate {
            veth: veth.to_string(),
            source,
        })
    }

    /// Whether IPAM key `holder` may be released for `veth`: it is no desired pod's veth and
    /// no device veth carries the name.
    async fn stale_holder(
        &self,
        ros: &RosClient,
        holder: &str,
        veth: &str,
    ) -> Result<bool, JobError> {
        if holder == veth {
            return Ok(false);
        }
        let pods = self
            .deps
            .pods_view
            .read(&self.pods)
            .await
            .map_err(JobError::actor("pods"))?;
        let claimed = pods
            .state
            .pods
            .values()
            .any(|p| names::veth_names(&p.pod).iter().any(|v| v == holder));
        if claimed {
            return Ok(false);
        }
        let on_device = ros
            .find_veth(holder)
            .await
            .map_err(|e| JobError::ReadVeth {
                veth: holder.to_string(),
                source: Box::new(e),
            })?;
        Ok(on_device.is_none())
    }
}
