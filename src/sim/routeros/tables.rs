//! Rules of the plain tables (spec §4.1–§4.5, §5.1-10): veths, bridges, bridge ports,
//! addresses, mount and env lists, services.

use super::device::{ADDRESS, BRIDGE, Device, ENVS, MOUNTS, PORT, VETH, network_of, port_row};
use super::errors::ApiError;
use super::rows::{Row, fmt_id, split_list};

impl Device {
    /// Adds a row after the table's checks; returns its id.
    pub fn table_add(&mut self, t: &'static str, mut props: Row) -> Result<u64, ApiError> {
        match t {
            x if x == VETH || x == BRIDGE => {
                let name = props.get("name").cloned().unwrap_or_default();
                if name.is_empty() {
                    return Err(ApiError::bad("missing value for argument name"));
                }
                if self.interface_id(&name).is_some() {
                    return Err(ApiError::failure("already have interface with such name"));
                }
                props
                    .entry("disabled".into())
                    .or_insert_with(|| "false".into());
            }
            x if x == PORT => {
                let bridge = props.get("bridge").cloned().unwrap_or_default();
                let iface = props.get("interface").cloned().unwrap_or_default();
                if self.find_row(BRIDGE, "name", &bridge).is_none() {
                    return Err(ApiError::bad("input does not match any value of bridge"));
                }
                if self.interface_id(&iface).is_none() {
                    return Err(ApiError::bad("input does not match any value of interface"));
                }
                if self.find_row(PORT, "interface", &iface).is_some() {
                    return Err(ApiError::failure("device already added as bridge port"));
                }
                let id = self.t.alloc();
                let mut row = port_row(id, &bridge, &iface, false);
                row.extend(props);
                self.t.table_mut(PORT).push(row);
                self.rt.dirty = true;
                return Ok(id);
            }
            x if x == ADDRESS => {
                let addr = props.get("address").cloned().unwrap_or_default();
                props
                    .entry("network".into())
                    .or_insert_with(|| network_of(&addr));
                let iface = props.get("interface").cloned().unwrap_or_default();
                props.insert("actual-interface".into(), iface);
                props.insert("dynamic".into(), "false".into());
                props.insert("invalid".into(), "false".into());
                props
                    .entry("disabled".into())
                    .or_insert_with(|| "false".into());
            }
            x if x == MOUNTS => {
                let group = self.profile.mount_group();
                let g = props.get(group).cloned().unwrap_or_default();
                let dst = props.get("dst").cloned().unwrap_or_default();
                let clash = self.t.table(MOUNTS).iter().any(|r| {
                    r.get(group).cloned().unwrap_or_default() == g && r.get("dst") == Some(&dst)
                });
                if clash {
                    return Err(ApiError::failure("same dst already exists"));
                }
                if self.profile >= super::Profile::V7_21 {
                    props
                        .entry("disabled".into())
                        .or_insert_with(|| "false".into());
                }
                if matches!(self.profile, super::Profile::V7_21 | super::Profile::V7_22) {
                    props
                        .entry("read-only".into())
                        .or_insert_with(|| "false".into());
                }
            }
            x if x == ENVS && self.profile >= super::Profile::V7_21 => {
                props
                    .entry("disabled".into())
                    .or_insert_with(|| "false".into());
            }
            _ => {}
        }
        let id = self.t.alloc();
        props.insert(".id".into(), fmt_id(id));
        if t == VETH {
            props.entry("mac-address".into()).or_insert_with(|| {
                format!(
                    "02:00:00:{:02X}:{:02X}:{:02X}",
                    (id >> 16) & 0xff,
                    (id >> 8) & 0xff,
                    id & 0xff
                )
            });
        }
        self.t.table_mut(t).push(props);
        self.rt.dirty = true;
        Ok(id)
    }

    /// Applies `props` to the rows `ids`; interface renames follow into bridge ports.
    pub fn table_set(
        &mut self,
        tab: &'static str,
        ids: &[String],
        props: &Row,
    ) -> Result<(), ApiError> {
        if (tab == VETH || tab == BRIDGE)
            && let Some(new) = props.get("name")
            && let Some(other) = self.interface_id(new)
            && !ids.contains(&other)
        {
            return Err(ApiError::failure("already have interface with such name"));
        }
        let mut renames = Vec::new();
        for r in self.t.table_mut(tab).iter_mut() {
            if r.get(".id").is_some_and(|i| ids.contains(i)) {
                if let (Some(old), Some(new)) = (r.get("name"), props.get("name")) {
                    renames.push((old.clone(), new.clone()));
                }
                r.extend(props.clone());
                if tab == ADDRESS
                    && let Some(a) = props.get("address")
                {
                    r.insert("network".into(), network_of(a));
                }
            }
        }
        if tab == VETH || tab == BRIDGE {
            for (old, new) in renames {
                for p in self.t.table_mut(PORT).iter_mut() {
                    for k in ["interface", "bridge"] {
                        if p.get(k) == Some(&old) {
                            p.insert(k.into(), new.clone());
                        }
                    }
                }
            }
        }
        self.rt.dirty = true;
        Ok(())
    }

    /// Removes rows `ids`; a removed veth leaves its static ports dangling as `*hex`.
    pub fn table_remove(&mut self, tab: &'static str, ids: &[String]) -> Result<(), ApiError> {
        let targets: Vec<Row> = self
            .t
            .table(tab)
            .iter()
            .filter(|r| r.get(".id").is_some_and(|i| ids.contains(i)))
            .cloned()
            .collect();
        for r in &targets {
            if tab == PORT && r.get("dynamic").map(|s| s == "true").unwrap_or(false) {
                return Err(ApiError::failure("can not remove dynamic port"));
            }
            if tab == VETH {
                let name = r.get("name").cloned().unwrap_or_default();
                let used = self.t.containers.iter().any(|c| {
                    c.props
                        .get("interface")
                        .map(|i| split_list(i).contains(&name))
                        .unwrap_or(false)
                });
                if used {
                    return Err(ApiError::failure("interface is in use by container"));
                }
            }
        }
        self.t
            .table_mut(tab)
            .retain(|r| !r.get(".id").is_some_and(|i| ids.contains(i)));
        if tab == VETH || tab == BRIDGE {
            for r in &targets {
                let name = r.get("name").cloned().unwrap_or_default();
                let id = r.get(".id").cloned().unwrap_or_default();
                let ports = self.t.table_mut(PORT);
                ports.retain(|p| {
                    !(p.get("interface") == Some(&name)
                        && p.get("dynamic").map(|s| s == "true").unwrap_or(false))
                });
                for p in ports.iter_mut() {
                    if p.get("interface") == Some(&name) {
                        p.insert("interface".into(), id.clone());
                        p.insert("inactive".into(), "true".into());
                    }
                }
            }
        }
        self.rt.dirty = true;
        Ok(())
    }
}
