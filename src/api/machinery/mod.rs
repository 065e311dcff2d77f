//! The Kubernetes API machinery every resource shares: request bodies into objects
//! (`decode`, `patch`), list and watch parameters (`params`), write options (`write_options`),
//! errors as `v1.Status` (`status`), resource versions (`version`), tables (`table`), object
//! plumbing (`objects`) and the watch loop (`watch`). Nothing here knows a resource.

pub mod decode;
pub mod objects;
pub mod params;
pub mod patch;
pub mod status;
pub mod table;
pub mod version;
pub mod watch;
pub mod write_options;
