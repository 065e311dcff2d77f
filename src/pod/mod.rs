//! The pod as mkube understands it, apart from who stores or runs it: the Kubernetes
//! defaults a pod gets at admission and the environment its containers receive. Pure; the API,
//! the pods engine and the reconcile pass share these rules.

pub mod defaults;
pub mod env;
pub mod status;
