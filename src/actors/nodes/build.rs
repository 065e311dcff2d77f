//! Pure: what this controller's `Node` says, from what it knows (the device's
//! `/system/resource`, the last container listing, the log's answer), and how a node that
//! stopped posting reads to the others (the node lifecycle's grace period).

use crate::actors::observations::DeviceContact;
use crate::kube_time::{chrono_of, time};
use crate::routeros::SystemResource;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often a controller posts its node.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A node whose last post is older than this reads `Unknown` (Kubernetes' node-monitor
/// grace period is 40 s as well).
pub const GRACE: Duration = Duration::from_secs(40);
/// The reason of every condition of a node whose controller stopped posting.
const STOPPED_POSTING: &str = "NodeStatusUnknown";

pub const READY: &str = "Ready";
pub const DEVICE_REACHABLE: &str = "RouterOSReachable";
pub const LOG_AVAILABLE: &str = "EventLogAvailable";

/// What the node is built from.
pub struct Facts<'a> {
    pub name: &'a str,
    /// `/system/resource` as last read (at connect, then refreshed); `None` before the
    /// device ever answered.
    pub resource: Option<&'a SystemResource>,
    /// The device's REST host (the node's `InternalIP` when it is an address).
    pub device_host: &'a str,
    /// The last container listing, `None` before the first.
    pub device: Option<&'a DeviceContact>,
    /// The last write to the node book: `Err` names why the log did not answer.
    pub log: Result<(), &'a str>,
    /// When this controller started (the node's creation time).
    pub started: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// This controller's node. `previous` (its last post) keeps each condition's transition time
/// while its status stays the same.
pub fn own_node(f: &Facts, previous: Option<&Node>) -> Node {
    let device = match f.device {
        None => (
            "Unknown",
            "NotListedYet",
            "the device's containers have not been listed yet".to_string(),
        ),
        Some(DeviceContact { error: None, at }) => (
            "True",
            "DeviceAnswered",
            format!("containers listed at {}", at.to_rfc3339()),
        ),
        Some(DeviceContact { error: Some(e), .. }) => ("False", "DeviceUnreachable", e.clone()),
    };
    let log = match f.log {
        Ok(()) => ("True", "LogAnswered", "the event log answers".to_string()),
        Err(e) => ("False", "LogUnavailable", e.to_string()),
    };
    let ready = match (device.0, log.0) {
        ("True", "True") => (
            "True",
            "ControllerReady",
            format!("mkube on {} reaches its device and its log", f.name),
        ),
        ("False", _) => ("False", "DeviceUnreachable", device.2.clone()),
        (_, "False") => ("False", "LogUnavailable", log.2.clone()),
        _ => ("Unknown", "NotListedYet", device.2.clone()),
    };
    let before = |kind: &str| {
        previous
            .and_then(|n| n.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
            .cloned()
    };
    let condition = |kind: &str, (status, reason, message): (&str, &str, String)| {
        let transition = before(kind)
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time)
            .or_else(|| time(f.now));
        NodeCondition {
            type_: kind.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_heartbeat_time: time(f.now),
            last_transition_time: transition,
        }
    };
    let r = f.resource.cloned().unwrap_or_default();
    let arch = kube_arch(&r.architecture_name);
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), f.name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("node-role.kubernetes.io/router".to_string(), String::new()),
    ]);
    if !arch.is_empty() {
        labels.insert("kubernetes.io/arch".into(), arch.clone());
    }
    if !r.board_name.is_empty() {
        labels.insert(
            "node.kubernetes.io/instance-type".into(),
            label_value(&r.board_name),
        );
    }
    let mut addresses = vec![NodeAddress {
        type_: "Hostname".into(),
        address: f.name.into(),
    }];
    if f.device_host.parse::<std::net::IpAddr>().is_ok() {
        addresses.insert(
            0,
            NodeAddress {
                type_: "InternalIP".into(),
                address: f.device_host.into(),
            },
        );
    }
    let (capacity, allocatable) = match f.resource {
        Some(r) => (
            quantities(r.cpu_count, r.total_memory, r.total_hdd_space),
            quantities(r.cpu_count, r.free_memory, r.free_hdd_space),
        ),
        None => (BTreeMap::new(), BTreeMap::new()),
    };
    Node {
        metadata: ObjectMeta {
            name: Some(f.name.into()),
            creation_timestamp: time(f.started),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            capacity: Some(capacity),
            allocatable: Some(allocatable),
            addresses: Some(addresses),
            conditions: Some(vec![
                condition(READY, ready),
                condition(DEVICE_REACHABLE, device),
                condition(LOG_AVAILABLE, log),
            ]),
            node_info: Some(NodeSystemInfo {
                architecture: arch,
                os_image: if r.version.is_empty() {
                    String::new()
                } else {
                    format!("RouterOS {}", r.version)
                },
                operating_system: "linux".into(),
                container_runtime_version: format!(
                    "routeros://{}",
                    r.version.split_whitespace().next().unwrap_or_default()
                ),
                kubelet_version: format!("mkube/{}", env!("CARGO_PKG_VERSION")),
                kernel_version: r.platform.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// A node as the others read it: when its last post is older than [`GRACE`], every condition
/// is `Unknown` (the controller, not only the device, stopped answering).
pub fn as_seen(mut node: Node, now: DateTime<Utc>) -> Node {
    let name = node.metadata.name.clone().unwrap_or_default();
    let Some(conditions) = node.status.as_mut().and_then(|s| s.conditions.as_mut()) else {
        return node;
    };
    let last = conditions
        .iter()
        .find(|c| c.type_ == READY)
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .and_then(chrono_of);
    if is_stale(last, now) {
        for c in conditions.iter_mut() {
            if c.status != "Unknown" {
                c.last_transition_time = time(now);
            }
            c.status = "Unknown".into();
            c.reason = Some(STOPPED_POSTING.into());
            c.message = Some(format!("mkube on {name} stopped posting its node status"));
        }
    }
    node
}

/// Whether a node last posted at `last` has stopped posting (no post in [`GRACE`]).
fn is_stale(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|at| now.signed_duration_since(at).to_std().unwrap_or_default() > GRACE)
}

/// Whether the node as [`as_seen`] made it is one whose controller stopped posting.
pub fn stopped_posting(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == READY))
        .is_some_and(|c| c.reason.as_deref() == Some(STOPPED_POSTING))
}

/// `Ready`, `NotReady` or `Unknown`, as `kubectl get nodes` prints the status.
pub fn status_word(node: &Node) -> &'static str {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == READY))
        .map(|c| c.status.as_str());
    match ready {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    }
}

fn quantities(cpu: u64, memory: u64, disk: u64) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        (
            "memory".to_string(),
            Quantity(format!("{}Ki", memory / 1024)),
        ),
        (
            "ephemeral-storage".to_string(),
            Quantity(format!("{}Ki", disk / 1024)),
        ),
    ])
}

/// RouterOS `architecture-name` → the Kubernetes/OCI architecture name.
fn kube_arch(routeros: &str) -> String {
    match routeros {
        "x86_64" | "x86" | "amd64" => "amd64".into(),
        "arm64" | "aarch64" => "arm64".into(),
        "arm" | "arm32" => "arm".into(),
        other => other.to_lowercase(),
    }
}

/// A label value: at most 63 of `[A-Za-z0-9_.-]`, others as `_`.
fn label_value(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> SystemResource {
        SystemResource {
            version: "7.22.2 (stable)".into(),
            architecture_name: "arm64".into(),
            board_name: "RDS2216".into(),
            cpu_count: 4,
            total_memory: 16 << 30,
            free_memory: 12 << 30,
            total_hdd_space: 64 << 30,
            free_hdd_space: 60 << 30,
            ..Default::default()
        }
    }

    fn facts<'a>(
        r: Option<&'a SystemResource>,
        device: Option<&'a DeviceContact>,
        log: Result<(), &'a str>,
        now: DateTime<Utc>,
    ) -> Facts<'a> {
        Facts {
            name: "rose1",
            resource: r,
            device_host: "192.168.200.1",
            device,
            log,
            started: now,
            now,
        }
    }

    fn condition<'a>(n: &'a Node, kind: &str) -> &'a NodeCondition {
        n.status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == kind)
            .unwrap()
    }

    #[test]
    fn a_reachable_device_and_log_make_a_ready_node_with_the_routers_figures() {
        let now = Utc::now();
        let r = resource();
        let seen = DeviceContact {
            at: now,
            error: None,
        };
        let n = own_node(&facts(Some(&r), Some(&seen), Ok(()), now), None);
        assert_eq!(status_word(&n), "Ready");
        let s = n.status.as_ref().unwrap();
        assert_eq!(s.capacity.as_ref().unwrap()["cpu"].0, "4");
        assert_eq!(s.capacity.as_ref().unwrap()["memory"].0, "16777216Ki");
        assert_eq!(s.allocatable.as_ref().unwrap()["memory"].0, "12582912Ki");
        let info = s.node_info.as_ref().unwrap();
        assert_eq!(info.os_image, "RouterOS 7.22.2 (stable)");
        assert_eq!(info.architecture, "arm64");
        assert_eq!(info.container_runtime_version, "routeros://7.22.2");
        assert_eq!(s.addresses.as_ref().unwrap()[0].address, "192.168.200.1");
        let labels = n.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["node.kubernetes.io/instance-type"], "RDS2216");
        assert_eq!(labels["kubernetes.io/arch"], "arm64");
    }

    #[test]
    fn an_unreachable_device_or_log_is_not_ready_and_transitions_are_kept() {
        let t0 = Utc::now();
        let r = resource();
        let ok = DeviceContact {
            at: t0,
            error: None,
        };
        let first = own_node(&facts(Some(&r), Some(&ok), Ok(()), t0), None);
        let t1 = t0 + chrono::Duration::seconds(10);
        let same = own_node(&facts(Some(&r), Some(&ok), Ok(()), t1), Some(&first));
        assert_eq!(condition(&same, READY).last_transition_time, time(t0));
        assert_eq!(condition(&same, READY).last_heartbeat_time, time(t1));
        let down = DeviceContact {
            at: t1,
            error: Some("connection refused".into()),
        };
        let n = own_node(&facts(Some(&r), Some(&down), Ok(()), t1), Some(&same));
        assert_eq!(status_word(&n), "NotReady");
        assert_eq!(
            condition(&n, READY).message.as_deref(),
            Some("connection refused")
        );
        assert_eq!(condition(&n, READY).last_transition_time, time(t1));
        let n = own_node(&facts(Some(&r), Some(&ok), Err("no responders"), t1), None);
        assert_eq!(status_word(&n), "NotReady");
        assert_eq!(
            condition(&n, READY).reason.as_deref(),
            Some("LogUnavailable")
        );
        let n = own_node(&facts(None, None, Ok(()), t1), None);
        assert_eq!(status_word(&n), "Unknown");
    }

    #[test]
    fn a_node_that_stopped_posting_reads_unknown_after_the_grace_period() {
        let t0 = Utc::now();
        let r = resource();
        let ok = DeviceContact {
            at: t0,
            error: None,
        };
        let n = own_node(&facts(Some(&r), Some(&ok), Ok(()), t0), None);
        let soon = as_seen(n.clone(), t0 + chrono::Duration::seconds(30));
        assert_eq!(status_word(&soon), "Ready");
        let late = as_seen(n, t0 + chrono::Duration::seconds(41));
        assert_eq!(status_word(&late), "Unknown");
        assert_eq!(
            condition(&late, READY).reason.as_deref(),
            Some("NodeStatusUnknown")
        );
    }
}
