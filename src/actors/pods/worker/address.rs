//! NET-1, address part: which IPv4 a container's veth gets, through IPAM's `Allocate`.

use super::Job;
use super::create::Step;
use crate::actors::ipam::pool::IpamError;
use crate::actors::ipam::{Allocate, AllocateError};
use crate::actors::journal::GetState;
use crate::pod::names;
use crate::routeros::RosClient;
use std::net::Ipv4Addr;

impl Job {
    /// NET-1, address part: the static IP; else what this container already held; else the
    /// address a same-named device veth carries (adoption keeps a running container's IP);
    /// else the next free one. Same-owner allocation is idempotent (IPAM-3 [F]).
    pub(super) async fn allocate(
        &self,
        ros: &RosClient,
        s: &Step<'_>,
        veth: &str,
        container: &str,
    ) -> Result<Ipv4Addr, String> {
        let mut wish = s.static_ip;
        if wish.is_none() {
            wish = s
                .rec
                .filter(|r| r.network == s.net.name)
                .and_then(|r| r.ip.parse().ok());
        }
        if wish.is_none() {
            // The pass's bulk read answers for names no record claims; else one read.
            let cidr = match s.seen {
                Some(o) if s.rec.is_none() => o.veths.get(veth).cloned(),
                _ => ros
                    .find_veth(veth)
                    .await
                    .map_err(|e| format!("reading veth {veth}: {e}"))?
                    .and_then(|v| v.ipv4()),
            };
            wish = cidr
                .and_then(|cidr| cidr.split('/').next()?.parse::<Ipv4Addr>().ok())
                .filter(|ip| s.net.subnet().contains(ip));
        }
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
            .map_err(|e| format!("ipam actor: {e}"))?;
        let result = match first {
            Err(_) if s.static_ip.is_none() && wish.is_some() => self
                .deps
                .ipam
                .send(ask(None))
                .await
                .map_err(|e| format!("ipam actor: {e}"))?,
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
                    .map_err(|e| format!("ipam actor: {e}"))?
            }
            other => other,
        };
        result.map_err(|e| format!("allocating network for {veth}: {e}"))
    }

    /// Whether IPAM key `holder` may be released for `veth`: it is no desired pod's veth and
    /// no device veth carries the name.
    async fn stale_holder(
        &self,
        ros: &RosClient,
        holder: &str,
        veth: &str,
    ) -> Result<bool, String> {
        if holder == veth {
            return Ok(false);
        }
        let state: crate::actors::pods::state::PodsState = self
            .pods
            .send(GetState::new())
            .await
            .map_err(|e| format!("pods actor: {e}"))?;
        let claimed = state
            .pods
            .values()
            .any(|p| names::veth_names(&p.pod).iter().any(|v| v == holder));
        if claimed {
            return Ok(false);
        }
        let on_device = ros
            .find_veth(holder)
            .await
            .map_err(|e| format!("reading veth {holder}: {e}"))?;
        Ok(on_device.is_none())
    }
}
