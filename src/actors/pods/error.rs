//! Why a pod's job failed. Its text is the reason recorded in `PodCreateFailed` (and shown
//! in the pod's status), so every variant prints what the job was doing and what went wrong;
//! a configuration error is the user's to fix and shows as [`CONFIG_ERROR`].

use crate::actors::images::ImageError;
use crate::actors::ipam::AllocateError;
use crate::actors::veths::VethError;
use crate::events::AppendError;
use crate::pod::env::EnvError;
use crate::routeros::RosError;
use actix::MailboxError;

/// Kubernetes' `waiting` reason of a pod whose container configuration is incomplete (a
/// ConfigMap or key its environment needs is missing).
pub const CONFIG_ERROR: &str = "CreateContainerConfigError";

/// Which part of the site was unavailable when a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The device: no answer, `Session closed`, or a 5xx.
    Device,
    /// The event log (NATS).
    Log,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The environment does not resolve (a ConfigMap or key is missing): nothing was
    /// allocated or made on the device.
    #[error(transparent)]
    Config(#[from] EnvError),
    /// The pod cannot be built as it is specified (an annotation, its network).
    #[error("{0}")]
    Spec(String),
    /// IPAM-8 [D]: a static IP names one container's address.
    #[error(
        "{} applies to single-container pods only ({containers} containers)",
        crate::pod::annotations::ANN_STATIC_IP
    )]
    StaticIpShared { containers: usize },
    /// NAME-2 [D]: two pods on one veth would take each other's address; the one that
    /// yields fails until the name is free.
    #[error(
        "veth names collide with pod {other} (NAME-2: first 15 characters of namespace and name)"
    )]
    VethClash { other: String },
    /// §3.5: the veth is held by containers mkube may not remove.
    #[error(
        "veth {veth} is held by container(s) {holders:?} that mkube does not manage; remove them or rename the pod"
    )]
    VethHeld { veth: String, holders: Vec<String> },
    #[error("container {container} has no image")]
    NoImage { container: String },
    #[error("container {container} missing from the spec")]
    NotInSpec { container: String },
    #[error("ensuring image {reference}: {source}")]
    Image {
        reference: String,
        source: ImageError,
    },
    /// An outage, not a fact about the pod.
    #[error("RouterOS unreachable: {0}")]
    Unreachable(Box<RosError>),
    #[error("reading container {name}: {source}")]
    ReadContainer { name: String, source: Box<RosError> },
    #[error("creating container {name}: {source}")]
    CreateContainer { name: String, source: Box<RosError> },
    #[error("removing container {name}: {source}")]
    RemoveContainer { name: String, source: Box<RosError> },
    #[error("moving root dir {root} aside: {source}")]
    MoveAside { root: String, source: Box<RosError> },
    #[error("reading veth {veth}: {source}")]
    ReadVeth { veth: String, source: Box<RosError> },
    #[error(transparent)]
    Veth(#[from] VethError),
    #[error("allocating network for {veth}: {source}")]
    Allocate { veth: String, source: AllocateError },
    #[error("releasing {veth}: {source}")]
    Release { veth: String, source: AppendError },
    /// An intent or outcome could not be appended.
    #[error("recording: {0}")]
    Record(AppendError),
    /// Another actor did not answer.
    #[error("{actor} actor: {source}")]
    Actor {
        actor: &'static str,
        source: MailboxError,
    },
    /// The job's task panicked or was cancelled.
    #[error("pod worker ended abnormally: {0}")]
    Aborted(String),
}

impl JobError {
    /// Kubernetes' `waiting` reason the failure shows (`PodCreateFailed.waitingReason`).
    pub fn waiting_reason(&self) -> &'static str {
        match self {
            JobError::Config(_) => CONFIG_ERROR,
            _ => "",
        }
    }

    /// Whether the job failed because the device or the event log was unavailable, not
    /// because of the pod: such a failure is retried as soon as a reconcile pass finds that
    /// part answering again (`backoff.rs`), however often it failed before.
    pub fn outage(&self) -> Option<Outage> {
        let device = |e: &RosError| e.is_outage().then_some(Outage::Device);
        let log = |e: &AppendError| {
            matches!(e, AppendError::Unavailable(_) | AppendError::Unknown(_))
                .then_some(Outage::Log)
        };
        match self {
            JobError::Unreachable(_) => Some(Outage::Device),
            JobError::ReadContainer { source, .. }
            | JobError::CreateContainer { source, .. }
            | JobError::RemoveContainer { source, .. }
            | JobError::MoveAside { source, .. }
            | JobError::ReadVeth { source, .. } => device(source),
            JobError::Veth(v) => match v {
                VethError::Create { source, .. }
                | VethError::Bridge { source, .. }
                | VethError::Delete { source, .. } => device(source),
                VethError::Device(_) => Some(Outage::Device),
                VethError::Log(e) => log(e),
                VethError::Stopped => None,
            },
            JobError::Allocate {
                source: AllocateError::Log(e),
                ..
            }
            | JobError::Release { source: e, .. }
            | JobError::Record(e) => log(e),
            _ => None,
        }
    }

    /// Maps a mailbox error of `actor` (`.map_err(JobError::actor("ipam"))`).
    pub fn actor(actor: &'static str) -> impl FnOnce(MailboxError) -> JobError {
        move |source| JobError::Actor { actor, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_recorded_reasons() {
        let cases = [
            (
                JobError::VethClash {
                    other: "default/b".into(),
                },
                "veth names collide with pod default/b (NAME-2: first 15 characters of namespace and name)",
            ),
            (
                JobError::StaticIpShared { containers: 2 },
                "vkube.io/static-ip applies to single-container pods only (2 containers)",
            ),
            (
                JobError::Actor {
                    actor: "ipam",
                    source: MailboxError::Closed,
                },
                "ipam actor: Mailbox has closed",
            ),
            (
                JobError::Record(AppendError::Rejected("x".into())),
                "recording: event log refused the append: x",
            ),
            (
                JobError::NoImage {
                    container: "app".into(),
                },
                "container app has no image",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.waiting_reason(), "");
        }
        let missing = JobError::Config(EnvError::ConfigMapNotFound {
            container: "app".into(),
            name: "cm".into(),
        });
        assert_eq!(missing.waiting_reason(), CONFIG_ERROR);
    }

    fn api(status: u16, kind: crate::routeros::ErrorKind) -> Box<RosError> {
        Box::new(RosError::Api {
            method: "POST",
            path: "/container/add".into(),
            status,
            message: "m".into(),
            detail: "d".into(),
            kind,
        })
    }

    // The soak's slow-recovery finding: failures of the device or the log are outages (retried
    // when the device answers again); the pod's own failures keep their back-off.
    #[test]
    fn outages_are_the_device_or_the_log_being_unavailable() {
        use crate::routeros::{ErrorKind, TransportKind};
        let create = |source| JobError::CreateContainer {
            name: "c".into(),
            source,
        };
        let eof = || {
            Box::new(RosError::Transport {
                method: "GET",
                path: "/container".into(),
                kind: TransportKind::Eof,
                message: "eof".into(),
            })
        };
        let device = [
            create(api(500, ErrorKind::Other)),
            create(api(503, ErrorKind::Other)),
            create(api(400, ErrorKind::SessionClosed)),
            create(eof()),
            JobError::Unreachable(eof()),
            JobError::Veth(VethError::Device(api(400, ErrorKind::Other))),
        ];
        for e in &device {
            assert_eq!(e.outage(), Some(Outage::Device), "{e}");
        }
        let log = JobError::Record(AppendError::Unavailable("nats".into()));
        assert_eq!(log.outage(), Some(Outage::Log));
        let unacked = JobError::Record(AppendError::Unknown("timed out".into()));
        assert_eq!(unacked.outage(), Some(Outage::Log));
        let own = [
            create(api(400, ErrorKind::RootDirOverlap)),
            create(api(404, ErrorKind::NotFound)),
            JobError::Record(AppendError::Rejected("x".into())),
            JobError::Spec("bad".into()),
            JobError::NoImage {
                container: "a".into(),
            },
        ];
        for e in &own {
            assert_eq!(e.outage(), None, "{e}");
        }
    }
}
