//! The pod as mkube understands it, apart from who stores or runs it (controller.md §1–§3):
//! its identity, its annotations, the device names of its objects, its network, its boot
//! order, the Kubernetes defaults it gets at admission, its containers' environment, what the
//! log records of it, and its status. Plain data and pure functions; the API, the actors and
//! the tests share these rules instead of keeping copies.

pub mod annotations;
pub mod defaults;
pub mod env;
pub mod key;
pub mod names;
pub mod network;
pub mod order;
pub mod record;
pub mod sample;
pub mod spec;
pub mod status;

pub use key::{PodKey, namespace_of, pod_key};
pub use network::network_of;
pub use record::{DesiredPod, DeviceContainer, Phase, Unit};
