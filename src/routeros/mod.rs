//! Typed RouterOS REST client (spec `routeros-rest.md`).
//!
//! One pooled keep-alive HTTP client with Basic auth, at most four requests
//! in flight, GET for reads and `POST <menu>/<command>` for everything else.
//! Property names follow the device version read once at connect; versions
//! below 7.21 are refused. Every retry schedule and poll runs through
//! [`Pacing`], and every call is counted ([`RosClient::stats`]).
//!
//! A client never knows about events: nothing here depends on actors or the
//! event log.

mod client;
mod containers;
mod device;
mod error;
mod files;
mod interfaces;
mod lists;
mod names;
mod observed;
mod pacing;
mod resources;
mod sequences;
mod snapshot;
mod stats;
mod tls;
mod values;

pub use client::{ClientOptions, RosClient};
pub use containers::{ContainerSpec, ImageSource};
pub use error::{ErrorKind, RosError, TransportKind, classify};
pub use files::MoveAside;
pub use interfaces::{PortOutcome, VethOutcome};
pub use lists::{MountSpec, SyncReport, is_protected_mount};
pub use names::{ExistingRootDir, PropertyNames, RosVersion, StateStyle, check_version};
pub use observed::{Observation, holders as veth_holders};
pub use pacing::{Pacing, Polls, schedule};
pub use resources::{
    ActiveUser, Bridge, BridgePort, Container, ContainerConfig, ContainerState, Env, FileEntry,
    FromRow, IpAddress, LogEntry, Mount, Service, SystemResource, Veth,
};
pub use sequences::{
    CreatedContainer, DeletedContainer, InstallPlan, Keepalive, PodContainerPlan, VethSpec,
};
pub use snapshot::{DeviceSnapshot, SnapshotOptions};
pub use stats::{CallStats, EndpointStats, StatsSnapshot};
pub use tls::client_config as tls_client_config;
pub use values::{Props, Row, first_ipv4_cidr, fmt_bool, normalize_path, parse_bool};
