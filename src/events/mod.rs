//! `events/` remembers: the event catalogue, the CBOR envelope, subjects, the JetStream log,
//! snapshots and the portable export format. Nothing here decides anything.

pub mod catalogue;
mod ensure;
pub mod envelope;
pub mod export;
pub mod log;
pub mod nodes;
pub mod record;
pub mod snapshot;
pub mod subject;
mod upcast;

pub use catalogue::{Area, Event};
pub use envelope::{DecodeError, Envelope, SCHEMA_VERSION};
pub use log::{AppendError, EventLog, LogError};
pub use record::{Record, record_json};
