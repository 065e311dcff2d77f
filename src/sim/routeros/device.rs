//! The device's tables, id allocator and runtime bookkeeping. One `Device` lives
//! behind a mutex in the simulator; nothing here awaits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::container::Container;
use super::knobs::Knobs;
use super::profile::Profile;
use super::rows::{Row, fmt_id};

pub const VETH: &str = "interface/veth";
pub const BRIDGE: &str = "interface/bridge";
pub const PORT: &str = "interface/bridge/port";
pub const ADDRESS: &str = "ip/address";
pub const MOUNTS: &str = "container/mounts";
pub const ENVS: &str = "container/envs";
pub const SERVICE: &str = "ip/service";

const LOG_RING: usize = 1000;

/// Everything that persists: tables, id counter, knobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tables {
    pub next_id: u64,
    pub tables: BTreeMap<String, Vec<Row>>,
    pub containers: Vec<Container>,
    pub config: Row,
    pub logs: Vec<Row>,
    pub file_ids: BTreeMap<String, u64>,
    pub knobs: Knobs,
}

/// A REST user session (`/user/active`, via `rest-api`).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: u64,
    pub name: String,
    pub address: String,
    pub when: String,
}

/// State that does not survive a restart.
pub struct Runtime {
    pub boot: Instant,
    pub down_until: Option<Instant>,
    pub sessions: Vec<Session>,
    /// (root-dir, name, removed at) of recently removed containers.
    pub removed: Vec<(String, String, Instant)>,
    pub dirty: bool,
    pub rng: StdRng,
    /// `--run-containers`: started containers run as processes (see `process`).
    pub processes: bool,
}

pub struct Device {
    pub t: Tables,
    pub rt: Runtime,
    pub profile: Profile,
    pub disk_root: PathBuf,
    pub user: String,
}

pub fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Tables {
    pub fn fresh(profile: Profile) -> Self {
        let mut t = Tables {
            next_id: 1,
            tables: BTreeMap::new(),
            containers: Vec::new(),
            config: Row::new(),
            logs: Vec::new(),
            file_ids: BTreeMap::new(),
            knobs: Knobs::default(),
        };
        for key in [VETH, BRIDGE, PORT, ADDRESS, MOUNTS, ENVS, SERVICE] {
            t.tables.insert(key.to_string(), Vec::new());
        }
        for (name, port, disabled) in [
            ("telnet", "23", "true"),
            ("ftp", "21", "true"),
            ("www", "80", "false"),
            ("ssh", "22", "false"),
            ("www-ssl", "443", "true"),
            ("api", "8728", "false"),
            ("winbox", "8291", "false"),
            ("api-ssl", "8729", "true"),
        ] {
            let id = t.alloc();
            let mut r = Row::new();
            r.insert(".id".into(), fmt_id(id));
            r.insert("name".into(), name.into());
            r.insert("port".into(), port.into());
            r.insert("disabled".into(), disabled.into());
            r.insert("invalid".into(), "false".into());
            r.insert("dynamic".into(), "false".into());
            r.insert("max-sessions".into(), "20".into());
            r.insert("vrf".into(), "main".into());
            t.tables.get_mut(SERVICE).expect("service table").push(r);
        }
        t.config
            .insert("registry-url".into(), "https://registry-1.docker.io".into());
        t.config.insert("tmpdir".into(), String::new());
        t.config.insert("layer-dir".into(), String::new());
        t.config.insert("username".into(), String::new());
        let mem = if profile >= Profile::V7_21 {
            "memory-high"
        } else {
            "ram-high"
        };
        t.config.insert(mem.into(), "unlimited".into());
        t
    }

    pub fn alloc(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn table(&self, key: &str) -> &[Row] {
        self.tables.get(key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn table_mut(&mut self, key: &str) -> &mut Vec<Row> {
        self.tables.entry(key.to_string()).or_default()
    }
}

impl Device {
    pub fn new(profile: Profile, disk_root: PathBuf, user: String, tables: Tables) -> Self {
        let seed = tables.knobs.seed;
        Device {
            t: tables,
            rt: Runtime {
                boot: Instant::now(),
                down_until: None,
                sessions: Vec::new(),
                removed: Vec::new(),
                dirty: false,
                rng: StdRng::seed_from_u64(seed),
                processes: false,
            },
            profile,
            disk_root,
            user,
        }
    }

    pub fn knobs(&self) -> &Knobs {
        &self.t.knobs
    }

    pub fn reseed(&mut self) {
        self.rt.rng = StdRng::seed_from_u64(self.t.knobs.seed);
    }

    pub fn log(&mut self, topics: &str, message: impl Into<String>) {
        let id = self.t.alloc();
        let mut r = Row::new();
        r.insert(".id".into(), fmt_id(id));
        r.insert("time".into(), now_text());
        r.insert("topics".into(), topics.into());
        r.insert("message".into(), message.into());
        self.t.logs.push(r);
        if self.t.logs.len() > LOG_RING {
            let extra = self.t.logs.len() - LOG_RING;
            self.t.logs.drain(..extra);
        }
        self.rt.dirty = true;
    }

    pub fn find_row(&self, table: &str, key: &str, value: &str) -> Option<&Row> {
        self.t
            .table(table)
            .iter()
            .find(|r| r.get(key).map(|v| v == value).unwrap_or(false))
    }

    pub fn veth_exists(&self, name: &str) -> bool {
        self.find_row(VETH, "name", name).is_some()
    }

    /// Any interface name (veth or bridge) → its row id.
    pub fn interface_id(&self, name: &str) -> Option<String> {
        [VETH, BRIDGE]
            .iter()
            .find_map(|t| self.find_row(t, "name", name))
            .and_then(|r| r.get(".id").cloned())
    }

    /// Simulated uptime in seconds (accelerated by clockFactor).
    pub fn uptime_secs(&self) -> u64 {
        (self.rt.boot.elapsed().as_secs_f64() * self.t.knobs.clock_factor.max(0.0)) as u64
    }

    pub fn max_sessions(&self) -> usize {
        self.find_row(SERVICE, "name", "www")
            .and_then(|r| r.get("max-sessions"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
    }

    pub fn is_down(&self, now: Instant) -> bool {
        self.rt.down_until.map(|t| now < t).unwrap_or(false)
    }

    /// `POST /_sim/seed`.
    pub fn seed(&mut self, v: &serde_json::Value) -> Result<(), String> {
        let strs = |key: &str| -> Vec<serde_json::Value> {
            v.get(key)
                .and_then(|x| x.as_array())
                .cloned()
                .unwrap_or_default()
        };
        for b in strs("bridges") {
            let name = b.as_str().ok_or("bridges must be strings")?.to_string();
            if self.find_row(BRIDGE, "name", &name).is_some() {
                continue;
            }
            let id = self.t.alloc();
            let mut r = Row::new();
            r.insert(".id".into(), fmt_id(id));
            r.insert("name".into(), name);
            r.insert("mtu".into(), "auto".into());
            r.insert("actual-mtu".into(), "1500".into());
            r.insert("protocol-mode".into(), "rstp".into());
            r.insert("vlan-filtering".into(), "false".into());
            r.insert("disabled".into(), "false".into());
            r.insert("running".into(), "true".into());
            self.t.table_mut(BRIDGE).push(r);
        }
        for a in strs("addresses") {
            let address = a
                .get("address")
                .and_then(|x| x.as_str())
                .ok_or("address needs address")?
                .to_string();
            let interface = a
                .get("interface")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_string();
            // Seeding is idempotent: the same address on the same interface is kept once.
            let exists = self.t.table_mut(ADDRESS).iter().any(|r| {
                r.get("address") == Some(&address) && r.get("interface") == Some(&interface)
            });
            if exists {
                continue;
            }
            let id = self.t.alloc();
            let mut r = Row::new();
            r.insert(".id".into(), fmt_id(id));
            r.insert("network".into(), network_of(&address));
            r.insert("address".into(), address);
            r.insert("actual-interface".into(), interface.clone());
            r.insert("interface".into(), interface);
            r.insert("disabled".into(), "false".into());
            r.insert("dynamic".into(), "false".into());
            r.insert("invalid".into(), "false".into());
            self.t.table_mut(ADDRESS).push(r);
        }
        for p in strs("dynamicPorts") {
            let bridge = p.get("bridge").and_then(|x| x.as_str()).unwrap_or("");
            let iface = p.get("interface").and_then(|x| x.as_str()).unwrap_or("");
            let id = self.t.alloc();
            let r = port_row(id, bridge, iface, true);
            self.t.table_mut(PORT).push(r);
        }
        self.rt.dirty = true;
        Ok(())
    }
}

pub fn port_row(id: u64, bridge: &str, iface: &str, dynamic: bool) -> Row {
    let mut r = Row::new();
    r.insert(".id".into(), fmt_id(id));
    r.insert("bridge".into(), bridge.into());
    r.insert("interface".into(), iface.into());
    r.insert("dynamic".into(), dynamic.to_string());
    r.insert("disabled".into(), "false".into());
    r.insert("inactive".into(), "false".into());
    r.insert("pvid".into(), "1".into());
    r
}

/// `10.0.0.5/24` → `10.0.0.0`.
pub fn network_of(cidr: &str) -> String {
    let (ip, len) = cidr.split_once('/').unwrap_or((cidr, "32"));
    let (Ok(ip), Ok(len)) = (ip.parse::<std::net::Ipv4Addr>(), len.parse::<u32>()) else {
        return String::new();
    };
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - len.min(32))
    };
    std::net::Ipv4Addr::from(u32::from(ip) & mask).to_string()
}
