//! `/interface/veth`, `/interface/bridge(/port)`, `/ip/address`: idempotent
//! veth and bridge-port operations (§4.1, §4.2).

use super::client::{RosClient, ok_if_gone};
use super::error::{ErrorKind, RosError};
use super::pacing::schedule;
use super::resources::{Bridge, BridgePort, IpAddress, Veth};
use super::values::{Props, first_ipv4_cidr};

/// What [`RosClient::ensure_veth`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VethOutcome {
    /// Name, address and gateway already matched.
    Unchanged { id: String },
    /// The veth existed with another address/gateway and was `set`.
    Updated { id: String },
    /// The veth was added.
    Created { id: String },
}

impl VethOutcome {
    pub fn id(&self) -> &str {
        match self {
            VethOutcome::Unchanged { id }
            | VethOutcome::Updated { id }
            | VethOutcome::Created { id } => id,
        }
    }
}

/// What [`RosClient::ensure_bridge_port`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOutcome {
    /// A static port in the wanted bridge was already there.
    Present { id: String },
    /// A port was added.
    Added { id: String },
    /// The interface was in another bridge; that port was removed and a new
    /// one added.
    Moved { from: String, id: String },
    /// The interface is a dynamic port (cannot be removed); the caller
    /// recreates the veth ([`RosClient::recreate_veth`]) and retries.
    Dynamic { bridge: String, id: String },
}

fn same_address(row: &Veth, address: &str) -> bool {
    row.address == address
        || (first_ipv4_cidr(&row.address).is_some()
            && first_ipv4_cidr(&row.address) == first_ipv4_cidr(address))
}

impl RosClient {
    /// `GET /interface/veth`.
    pub async fn list_veths(&self) -> Result<Vec<Veth>, RosError> {
        self.get_rows("/interface/veth", &[]).await
    }

    /// `GET /interface/veth?name=`.
    pub async fn find_veth(&self, name: &str) -> Result<Option<Veth>, RosError> {
        let rows: Vec<Veth> = self.get_rows("/interface/veth", &[("name", name)]).await?;
        Ok(rows.into_iter().find(|v| v.name == name))
    }

    /// Idempotent veth create: list by name → no-op if name+address+gateway
    /// match, `set` if they differ, else `add` (and on `already have
    /// interface`, re-read and `set`).
    pub async fn ensure_veth(
        &self,
        name: &str,
        address: &str,
        gateway: &str,
    ) -> Result<VethOutcome, RosError> {
        if let Some(row) = self.find_veth(name).await? {
            return self.converge_veth(&row, address, gateway).await;
        }
        self.add_veth(name, address, gateway).await
    }

    /// The add half of [`RosClient::ensure_veth`], for a caller whose bulk
    /// observation says the name is free: `add` first, and only on `already
    /// have interface` (or an unknown outcome) read and converge. One call
    /// when the observation holds, never a duplicate when it does not.
    pub async fn add_veth(
        &self,
        name: &str,
        address: &str,
        gateway: &str,
    ) -> Result<VethOutcome, RosError> {
        let body = Props::new()
            .set("name", name)
            .set("address", address)
            .set("gateway", gateway);
        match self.add("/interface/veth", &body).await {
            Ok(id) => Ok(VethOutcome::Created { id }),
            Err(e) if e.is(ErrorKind::AlreadyHaveInterface) || e.is_indeterminate() => {
                match self.find_veth(name).await? {
                    Some(row) => self.converge_veth(&row, address, gateway).await,
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn converge_veth(
        &self,
        row: &Veth,
        address: &str,
        gateway: &str,
    ) -> Result<VethOutcome, RosError> {
        if same_address(row, address) && row.gateway == gateway {
            return Ok(VethOutcome::Unchanged { id: row.id.clone() });
        }
        let body = Props::new()
            .set(".id", &row.id)
            .set("address", address)
            .set("gateway", gateway);
        self.post("/interface/veth/set", &body).await?;
        Ok(VethOutcome::Updated { id: row.id.clone() })
    }

    /// Removes a veth: its static bridge ports first, then the veth. Absent
    /// counts as done (`false`). `in use by container` is retried briefly (a
    /// container still being deleted) and then returned.
    pub async fn remove_veth(&self, name: &str) -> Result<bool, RosError> {
        let Some(veth) = self.find_veth(name).await? else {
            return Ok(false);
        };
        for port in self.ports_of(name).await? {
            if !port.dynamic {
                ok_if_gone(self.remove("/interface/bridge/port", &port.id).await)?;
            }
        }
        let mut delays = schedule::VETH_IN_USE.iter();
        loop {
            match ok_if_gone(self.remove("/interface/veth", &veth.id).await) {
                Ok(removed) => return Ok(removed),
                Err(e) if e.is(ErrorKind::InUseByContainer) || e.is_retryable() => {
                    match delays.next() {
                        Some(d) => self.pacing().sleep_secs(*d).await,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes and re-adds a veth with the same address (dynamic-port repair).
    pub async fn recreate_veth(
        &self,
        name: &str,
        address: &str,
        gateway: &str,
    ) -> Result<VethOutcome, RosError> {
        self.remove_veth(name).await?;
        self.ensure_veth(name, address, gateway).await
    }

    /// `GET /interface/bridge`.
    pub async fn list_bridges(&self) -> Result<Vec<Bridge>, RosError> {
        self.get_rows("/interface/bridge", &[]).await
    }

    /// `GET /interface/bridge/port`.
    pub async fn list_bridge_ports(&self) -> Result<Vec<BridgePort>, RosError> {
        self.get_rows("/interface/bridge/port", &[]).await
    }

    /// `GET /interface/bridge/port?interface=`.
    pub async fn ports_of(&self, interface: &str) -> Result<Vec<BridgePort>, RosError> {
        let rows: Vec<BridgePort> = self
            .get_rows("/interface/bridge/port", &[("interface", interface)])
            .await?;
        Ok(rows
            .into_iter()
            .filter(|p| p.interface == interface)
            .collect())
    }

    /// Idempotent attach: query `?interface=`; same bridge → done; other
    /// bridge → remove and re-add; dynamic port → reported.
    pub async fn ensure_bridge_port(
        &self,
        bridge: &str,
        interface: &str,
    ) -> Result<PortOutcome, RosError> {
        let ports = self.ports_of(interface).await?;
        if let Some(p) = ports.iter().find(|p| p.dynamic) {
            return Ok(PortOutcome::Dynamic {
                bridge: p.bridge.clone(),
                id: p.id.clone(),
            });
        }
        if let Some(p) = ports.iter().find(|p| p.bridge == bridge) {
            return Ok(PortOutcome::Present { id: p.id.clone() });
        }
        let mut from = None;
        for p in &ports {
            match self.remove("/interface/bridge/port", &p.id).await {
                Ok(()) => {}
                Err(e) if e.is_gone() => {}
                Err(e) if e.is(ErrorKind::DynamicPort) => {
                    return Ok(PortOutcome::Dynamic {
                        bridge: p.bridge.clone(),
                        id: p.id.clone(),
                    });
                }
                Err(e) => return Err(e),
            }
            from = Some(p.bridge.clone());
        }
        let body = Props::new()
            .set("bridge", bridge)
            .set("interface", interface);
        let id = self.add("/interface/bridge/port", &body).await?;
        Ok(match from {
            Some(from) => PortOutcome::Moved { from, id },
            None => PortOutcome::Added { id },
        })
    }

    /// Optimistic attach for an interface the caller observed with no port
    /// (a veth it just added): `add` first; a refusal that says the
    /// interface is already a port, or an unknown outcome, falls back to
    /// [`RosClient::ensure_bridge_port`] (read, then keep, move or report).
    pub async fn add_bridge_port(
        &self,
        bridge: &str,
        interface: &str,
    ) -> Result<PortOutcome, RosError> {
        let body = Props::new()
            .set("bridge", bridge)
            .set("interface", interface);
        match self.add("/interface/bridge/port", &body).await {
            Ok(id) => Ok(PortOutcome::Added { id }),
            Err(e)
                if e.is_indeterminate() || e.detail().to_ascii_lowercase().contains("already") =>
            {
                self.ensure_bridge_port(bridge, interface).await
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes static bridge ports whose interface is gone (`*<hex>`);
    /// returns the removed rows.
    pub async fn collect_dangling_ports(&self) -> Result<Vec<BridgePort>, RosError> {
        let mut removed = Vec::new();
        for p in self.list_bridge_ports().await? {
            if p.is_dangling() && ok_if_gone(self.remove("/interface/bridge/port", &p.id).await)? {
                removed.push(p);
            }
        }
        Ok(removed)
    }

    /// `GET /ip/address`.
    pub async fn list_ip_addresses(&self) -> Result<Vec<IpAddress>, RosError> {
        self.get_rows("/ip/address", &[]).await
    }
}
