//! microdns REST client (microdns-api.md §1–§2, §4 R1–R7, R16) and DNS helpers: typed zones and
//! records, paged lists, a per-pass context (record-list cache and failed endpoints), a health
//! gate per endpoint (controller.md L-5), a UDP liveness probe, backups and zone-file import.
//! A client knows nothing of events or actors.

mod backup;
mod client;
mod error;
mod health;
pub mod liveness;
mod pass;
mod types;
pub mod zonefile;

pub use backup::{Backup, ZoneBackup, backup_endpoint};
pub use client::{HEALTH_TIMEOUT, MicrodnsClient, REQUEST_TIMEOUT};
pub use error::MicrodnsError;
pub use health::{HEALTH_TTL, HealthGate};
pub use liveness::dns_alive;
pub use pass::PassContext;
pub use types::{Record, RecordData, Zone};
