//! Typed rows of the menus mkube reads (§2.1, §3.2, §4).
//!
//! Every value arrives as a string; missing keys are empty/false. Renamed
//! properties are read under either name.

use super::values::{Row, normalize_path, split_list};

/// A typed row built from a reply row.
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Self;
}

/// `/system/resource`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemResource {
    pub version: String,
    pub architecture_name: String,
    pub board_name: String,
    pub platform: String,
    pub uptime: String,
    pub cpu_count: u64,
    pub cpu_load: u64,
    pub free_memory: u64,
    pub total_memory: u64,
    pub free_hdd_space: u64,
    pub total_hdd_space: u64,
}

impl FromRow for SystemResource {
    fn from_row(r: &Row) -> Self {
        SystemResource {
            version: r.str("version"),
            architecture_name: r.str("architecture-name"),
            board_name: r.str("board-name"),
            platform: r.str("platform"),
            uptime: r.str("uptime"),
            cpu_count: r.u64("cpu-count"),
            cpu_load: r.u64("cpu-load"),
            free_memory: r.u64("free-memory"),
            total_memory: r.u64("total-memory"),
            free_hdd_space: r.u64("free-hdd-space"),
            total_hdd_space: r.u64("total-hdd-space"),
        }
    }
}

/// A container's state, from the 7.20+ flags or the ≤7.19 `status` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Extracting,
    Stopped,
    Starting,
    Running,
    Stopping,
    Deleting,
    Failed,
    /// No flag true (right after `add`): still settling, never "stopped".
    Settling,
    /// An unrecognised `status` text.
    Other(String),
}

impl ContainerState {
    /// Reads the flags first; falls back to `status`.
    pub fn from_row(r: &Row) -> ContainerState {
        const FLAGS: [(&str, ContainerState); 7] = [
            ("running", ContainerState::Running),
            ("stopping", ContainerState::Stopping),
            ("starting", ContainerState::Starting),
            ("extracting", ContainerState::Extracting),
            ("deleting", ContainerState::Deleting),
            ("failed", ContainerState::Failed),
            ("stopped", ContainerState::Stopped),
        ];
        for (key, state) in FLAGS {
            if r.flag(key) {
                return state;
            }
        }
        match r.str("status").trim().to_ascii_lowercase().as_str() {
            "" => ContainerState::Settling,
            "running" => ContainerState::Running,
            "stopped" => ContainerState::Stopped,
            "starting" => ContainerState::Starting,
            "stopping" => ContainerState::Stopping,
            "extracting" | "pulling" | "downloading" => ContainerState::Extracting,
            "deleting" | "removing" => ContainerState::Deleting,
            "error" | "failed" => ContainerState::Failed,
            other => ContainerState::Other(other.to_string()),
        }
    }

    /// The import is over and the container is idle.
    pub fn is_stopped(&self) -> bool {
        *self == ContainerState::Stopped
    }

    pub fn is_running(&self) -> bool {
        *self == ContainerState::Running
    }

    /// The state as RouterOS words it (`running`, `stopped`, …).
    pub fn label(&self) -> &str {
        match self {
            ContainerState::Extracting => "extracting",
            ContainerState::Stopped => "stopped",
            ContainerState::Starting => "starting",
            ContainerState::Running => "running",
            ContainerState::Stopping => "stopping",
            ContainerState::Deleting => "deleting",
            ContainerState::Failed => "error",
            ContainerState::Settling => "settling",
            ContainerState::Other(s) => s,
        }
    }

    /// Running, starting or stopping: `remove` would be refused.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Starting | ContainerState::Stopping
        )
    }
}

/// A `/container` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// Image reference (`repo` on 7.18+, `tag` before).
    pub tag: String,
    pub repo: String,
    pub file: String,
    pub interface: String,
    /// Normalised (no leading `/`).
    pub root_dir: String,
    pub mountlists: Vec<String>,
    pub envlists: Vec<String>,
    pub cmd: String,
    pub entrypoint: String,
    pub workdir: String,
    pub hostname: String,
    pub dns: String,
    pub user: String,
    pub logging: bool,
    pub start_on_boot: bool,
    pub comment: String,
    pub state: ContainerState,
    /// The whole row, for properties not modelled here.
    pub raw: Row,
}

impl FromRow for Container {
    fn from_row(r: &Row) -> Self {
        Container {
            id: r.str(".id"),
            name: r.str("name"),
            tag: r.str("tag"),
            repo: r.str("repo"),
            file: r.str("file"),
            interface: r.str("interface"),
            root_dir: normalize_path(&r.str("root-dir")).to_string(),
            mountlists: split_list(&r.first_of(&["mountlists", "mounts"])),
            envlists: split_list(&r.first_of(&["envlists", "envlist"])),
            cmd: r.str("cmd"),
            entrypoint: r.str("entrypoint"),
            workdir: r.str("workdir"),
            hostname: r.str("hostname"),
            dns: r.str("dns"),
            user: r.str("user"),
            logging: r.flag("logging"),
            start_on_boot: r.flag("start-on-boot"),
            comment: r.str("comment"),
            state: ContainerState::from_row(r),
            raw: r.clone(),
        }
    }
}

/// `/container/config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerConfig {
    pub registry_url: String,
    pub tmpdir: String,
    pub layer_dir: String,
    pub username: String,
    pub memory_high: String,
}

impl FromRow for ContainerConfig {
    fn from_row(r: &Row) -> Self {
        ContainerConfig {
            registry_url: r.str("registry-url"),
            tmpdir: r.str("tmpdir"),
            layer_dir: r.str("layer-dir"),
            username: r.str("username"),
            memory_high: r.first_of(&["memory-high", "ram-high"]),
        }
    }
}

/// `/interface/veth`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Veth {
    pub id: String,
    pub name: String,
    pub address: String,
    pub gateway: String,
    pub gateway6: String,
    pub mac_address: String,
    pub disabled: bool,
    pub running: bool,
    pub comment: String,
}

impl Veth {
    /// The first IPv4 CIDR of `address`.
    pub fn ipv4(&self) -> Option<String> {
        super::values::first_ipv4_cidr(&self.address)
    }
}

impl FromRow for Veth {
    fn from_row(r: &Row) -> Self {
        Veth {
            id: r.str(".id"),
            name: r.str("name"),
            address: r.str("address"),
            gateway: r.str("gateway"),
            gateway6: r.str("gateway6"),
            mac_address: r.str("mac-address"),
            disabled: r.flag("disabled"),
            running: r.flag("running"),
            comment: r.str("comment"),
        }
    }
}

/// `/interface/bridge`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bridge {
    pub id: String,
    pub name: String,
    pub disabled: bool,
}

impl FromRow for Bridge {
    fn from_row(r: &Row) -> Self {
        Bridge {
            id: r.str(".id"),
            name: r.str("name"),
            disabled: r.flag("disabled"),
        }
    }
}

/// `/interface/bridge/port`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BridgePort {
    pub id: String,
    pub bridge: String,
    pub interface: String,
    pub dynamic: bool,
    pub disabled: bool,
    pub inactive: bool,
}

impl BridgePort {
    /// A static port left behind by a removed interface (`interface` = `*<hex>`).
    pub fn is_dangling(&self) -> bool {
        !self.dynamic && self.interface.starts_with('*')
    }
}

impl FromRow for BridgePort {
    fn from_row(r: &Row) -> Self {
        BridgePort {
            id: r.str(".id"),
            bridge: r.str("bridge"),
            interface: r.str("interface"),
            dynamic: r.flag("dynamic"),
            disabled: r.flag("disabled"),
            inactive: r.flag("inactive"),
        }
    }
}

/// `/ip/address`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpAddress {
    pub id: String,
    pub address: String,
    pub network: String,
    pub interface: String,
    pub disabled: bool,
    pub dynamic: bool,
}

impl FromRow for IpAddress {
    fn from_row(r: &Row) -> Self {
        IpAddress {
            id: r.str(".id"),
            address: r.str("address"),
            network: r.str("network"),
            interface: r.str("interface"),
            disabled: r.flag("disabled"),
            dynamic: r.flag("dynamic"),
        }
    }
}

/// `/container/mounts` (grouped by `list`, `name` before 7.21).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mount {
    pub id: String,
    pub list: String,
    /// Verbatim (not normalised).
    pub src: String,
    pub dst: String,
    pub read_only: bool,
    pub disabled: bool,
    pub comment: String,
}

impl FromRow for Mount {
    fn from_row(r: &Row) -> Self {
        let mode = r.str("mode");
        Mount {
            id: r.str(".id"),
            list: r.first_of(&["list", "name"]),
            src: r.str("src"),
            dst: r.str("dst"),
            read_only: r.flag("read-only") || mode.eq_ignore_ascii_case("ro"),
            disabled: r.flag("disabled"),
            comment: r.str("comment"),
        }
    }
}

/// `/container/envs` (grouped by `list`, `name` before 7.20).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    pub id: String,
    pub list: String,
    pub key: String,
    pub value: String,
    pub disabled: bool,
}

impl FromRow for Env {
    fn from_row(r: &Row) -> Self {
        Env {
            id: r.str(".id"),
            list: r.first_of(&["list", "name"]),
            key: r.str("key"),
            value: r.str("value"),
            disabled: r.flag("disabled"),
        }
    }
}

/// `/file`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileEntry {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub size: u64,
    pub last_modified: String,
    /// The text of a small file, when the device shows it.
    pub contents: Option<String>,
}

impl FileEntry {
    pub fn is_directory(&self) -> bool {
        self.kind == "directory" || self.kind == "disk"
    }
}

impl FromRow for FileEntry {
    fn from_row(r: &Row) -> Self {
        FileEntry {
            id: r.str(".id"),
            name: r.str("name"),
            kind: r.str("type"),
            size: r.u64("size"),
            last_modified: r.first_of(&["last-modified", "creation-time"]),
            contents: r.opt("contents"),
        }
    }
}

/// `/log`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogEntry {
    pub id: String,
    pub time: String,
    pub topics: Vec<String>,
    pub message: String,
}

impl LogEntry {
    pub fn has_topic(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }
}

impl FromRow for LogEntry {
    fn from_row(r: &Row) -> Self {
        LogEntry {
            id: r.str(".id"),
            time: r.str("time"),
            topics: split_list(&r.str("topics")),
            message: r.str("message"),
        }
    }
}

/// `/ip/service`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub port: u64,
    pub disabled: bool,
    pub max_sessions: u64,
    pub address: String,
}

impl FromRow for Service {
    fn from_row(r: &Row) -> Self {
        Service {
            id: r.str(".id"),
            name: r.str("name"),
            port: r.u64("port"),
            disabled: r.flag("disabled"),
            max_sessions: r.u64("max-sessions"),
            address: r.str("address"),
        }
    }
}

/// `/user/active`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActiveUser {
    pub id: String,
    pub name: String,
    pub via: String,
    pub address: String,
    pub when: String,
}

impl FromRow for ActiveUser {
    fn from_row(r: &Row) -> Self {
        ActiveUser {
            id: r.str(".id"),
            name: r.str("name"),
            via: r.str("via"),
            address: r.str("address"),
            when: r.str("when"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: serde_json::Value) -> Row {
        Row::from_value(v)
    }

    #[test]
    fn container_flags_and_status() {
        let c = Container::from_row(&row(json!({
            ".id":"*3","name":"a_b_c","root-dir":"raid1/images/a","running":"true",
            "stopped":"false","mountlists":"a.x,a.y","logging":"yes"
        })));
        assert_eq!(c.state, ContainerState::Running);
        assert_eq!(c.mountlists, vec!["a.x", "a.y"]);
        assert!(c.logging && !c.start_on_boot);
        assert_eq!(c.cmd, "");
        let settling = Container::from_row(&row(json!({".id":"*4","name":"x"})));
        assert_eq!(settling.state, ContainerState::Settling);
        assert!(!settling.state.is_stopped());
        let old = Container::from_row(&row(json!({"status":"stopped","mounts":"m","envlist":"e"})));
        assert_eq!(old.state, ContainerState::Stopped);
        assert_eq!(old.mountlists, vec!["m"]);
        assert_eq!(old.envlists, vec!["e"]);
        let e = Container::from_row(&row(json!({"status":"extracting"})));
        assert_eq!(e.state, ContainerState::Extracting);
        let rd = Container::from_row(&row(json!({"root-dir":"/raid1/x"})));
        assert_eq!(rd.root_dir, "raid1/x");
    }

    #[test]
    fn ports_and_mounts() {
        let p = BridgePort::from_row(&row(json!({".id":"*9","interface":"*2F","bridge":"b"})));
        assert!(p.is_dangling());
        let d = BridgePort::from_row(&row(json!({"interface":"*2F","dynamic":"true"})));
        assert!(!d.is_dangling());
        let m = Mount::from_row(&row(
            json!({"name":"l","src":"/raid1/x","dst":"/x","mode":"ro"}),
        ));
        assert_eq!(m.list, "l");
        assert!(m.read_only);
        let r =
            SystemResource::from_row(&row(json!({"version":"7.22.2 (stable)","cpu-count":"4"})));
        assert_eq!(r.cpu_count, 4);
        assert_eq!(r.total_memory, 0);
    }
}
