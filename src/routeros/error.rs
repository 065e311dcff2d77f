//! `RosError`: every failure of the client, classified (§1.8).

use std::time::Duration;

/// What a device error means, from its status and `detail` fragment (§1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `already have interface`: a veth with that name exists.
    AlreadyHaveInterface,
    /// `in use by container`: a container still references the veth.
    InUseByContainer,
    /// `cannot remove running`: the container is (or was just) running.
    CannotRemoveRunning,
    /// `root-dir overlap`: another (maybe deleting) container holds the root-dir.
    RootDirOverlap,
    /// `same dst already exists`: the mount list has a mount with that dst.
    SameDstExists,
    /// `can not remove dynamic port`.
    DynamicPort,
    /// `no such item`: the target does not exist.
    NoSuchItem,
    /// `already exist`: the file path exists.
    AlreadyExists,
    /// `No file or remote-image`: add without an image source.
    NoImageSource,
    /// `input does not match any value of interface`: no such veth.
    NoSuchInterface,
    /// `unknown parameter` / `no such argument`: property unknown on this version.
    UnknownParameter,
    /// `no such command` or status 406: command/menu unknown on this version.
    NoSuchCommand,
    /// `Session closed`: the request outlived the device's REST cap.
    SessionClosed,
    /// `not ready`: start while the container is still extracting.
    NotReady,
    /// Status 401: bad credentials.
    Unauthorized,
    /// Status 404: unknown id/name in the URL.
    NotFound,
    /// Status 415: body not JSON.
    UnsupportedMediaType,
    /// Any other refusal.
    Other,
}

/// Classifies a device error from its status and `detail` (case-insensitive
/// substrings, never equality).
pub fn classify(status: u16, detail: &str) -> ErrorKind {
    let d = detail.to_ascii_lowercase();
    let has = |frag: &str| d.contains(frag);
    // Order matters: `same dst already exists` also contains `already exist`.
    if has("session closed") {
        ErrorKind::SessionClosed
    } else if has("already have interface") {
        ErrorKind::AlreadyHaveInterface
    } else if has("in use by container") {
        ErrorKind::InUseByContainer
    } else if has("cannot remove running") {
        ErrorKind::CannotRemoveRunning
    } else if has("root-dir overlap") {
        ErrorKind::RootDirOverlap
    } else if has("same dst already exists") {
        ErrorKind::SameDstExists
    } else if has("can not remove dynamic port") || has("cannot remove dynamic port") {
        ErrorKind::DynamicPort
    } else if has("no such item") {
        ErrorKind::NoSuchItem
    } else if has("no file or remote-image") {
        ErrorKind::NoImageSource
    } else if has("input does not match any value of interface") {
        ErrorKind::NoSuchInterface
    } else if has("unknown parameter") || has("no such argument") {
        ErrorKind::UnknownParameter
    } else if has("no such command") {
        ErrorKind::NoSuchCommand
    } else if has("already exist") {
        ErrorKind::AlreadyExists
    } else if has("not ready") {
        ErrorKind::NotReady
    } else {
        match status {
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            406 => ErrorKind::NoSuchCommand,
            415 => ErrorKind::UnsupportedMediaType,
            _ => ErrorKind::Other,
        }
    }
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection closed without a response (EOF) or was reset.
    Eof,
    /// The client-side timeout elapsed.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// Anything else (TLS, body, …).
    Other,
}

/// Every failure of the RouterOS client.
#[derive(Debug, thiserror::Error)]
pub enum RosError {
    /// The device answered with status ≥ 400.
    #[error("{method} {path}: {status} {message}: {detail} ({kind:?})")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
        detail: String,
        kind: ErrorKind,
    },
    /// No HTTP answer: EOF/reset, timeout, refused connection.
    #[error("{method} {path}: transport {kind:?}: {message}")]
    Transport {
        method: &'static str,
        path: String,
        kind: TransportKind,
        message: String,
    },
    /// The reply could not be understood.
    #[error("{path}: bad reply: {message}")]
    Decode { path: String, message: String },
    /// The device runs a version mkube does not support.
    #[error("RouterOS {version} is not supported: mkube needs {minimum} or newer")]
    UnsupportedVersion { version: String, minimum: String },
    /// Bad client options (URL, certificate, …).
    #[error("routeros client configuration: {0}")]
    Config(String),
    /// A state wait ran out of time.
    #[error("timed out after {waited:?} waiting for {what}")]
    WaitTimeout { what: String, waited: Duration },
    /// The container row vanished during import; `reason` comes from `/log`.
    #[error("import of container {name} failed: {reason}")]
    ImportFailed { name: String, reason: String },
    /// A veth sits in a bridge as a dynamic port, which cannot be removed;
    /// the caller recreates the veth.
    #[error("interface {interface} is a dynamic port of bridge {bridge}")]
    DynamicPort { interface: String, bridge: String },
    /// The container went back to stopped after a start; `comment` is the
    /// device's reason (e.g. `could not acquire interface: no device (6)`).
    #[error("container {name} did not start: {comment}")]
    StartFailed { name: String, comment: String },
    /// A row expected to exist is absent.
    #[error("{what} not found")]
    Missing { what: String },
}

impl RosError {
    /// The device-error class, if this is a device error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            RosError::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether this is a device error of `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind() == Some(kind)
    }

    /// Whether this is a transport fault (EOF, reset, timeout, refused).
    pub fn is_transport(&self) -> bool {
        matches!(self, RosError::Transport { .. })
    }

    /// Whether the target is already gone (`no such item` or 404).
    pub fn is_gone(&self) -> bool {
        self.is(ErrorKind::NoSuchItem) || self.is(ErrorKind::NotFound)
    }

    /// Whether the outcome is unknown: the device may or may not have done it
    /// (transport fault or `Session closed`). Resolve by reading state.
    pub fn is_indeterminate(&self) -> bool {
        self.is_transport() || self.is(ErrorKind::SessionClosed)
    }

    /// Whether this says the device is unwell rather than anything about the request: no
    /// answer, `Session closed`, or a 5xx. A job that failed so is retried when the device
    /// answers again, not after its back-off.
    pub fn is_outage(&self) -> bool {
        self.is_indeterminate() || matches!(self, RosError::Api { status, .. } if *status >= 500)
    }

    /// Whether the same request may simply be sent again (idempotent calls).
    pub fn is_retryable(&self) -> bool {
        self.is_indeterminate()
    }

    /// The device's `detail`, if any.
    pub fn detail(&self) -> &str {
        match self {
            RosError::Api { detail, .. } => detail,
            _ => "",
        }
    }
}

/// Classifies a reqwest failure into a transport kind.
pub(crate) fn transport_kind(err: &reqwest::Error) -> TransportKind {
    if err.is_timeout() {
        return TransportKind::Timeout;
    }
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::TimedOut => return TransportKind::Timeout,
                K::ConnectionReset | K::UnexpectedEof | K::BrokenPipe | K::ConnectionAborted => {
                    return TransportKind::Eof;
                }
                K::ConnectionRefused => return TransportKind::Connect,
                _ => {}
            }
        }
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push(' ');
        source = e.source();
    }
    if text.contains("connection closed")
        || text.contains("incomplete")
        || text.contains("reset")
        || text.contains("eof")
    {
        TransportKind::Eof
    } else if err.is_connect() {
        TransportKind::Connect
    } else if text.contains("timed out") {
        TransportKind::Timeout
    } else {
        TransportKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_fragments() {
        let cases = [
            (
                "failure: already have interface with such name",
                ErrorKind::AlreadyHaveInterface,
            ),
            (
                "failure: interface in use by container *3",
                ErrorKind::InUseByContainer,
            ),
            (
                "failure: cannot remove running container",
                ErrorKind::CannotRemoveRunning,
            ),
            (
                "failure: root-dir overlap with raid1/images/x",
                ErrorKind::RootDirOverlap,
            ),
            (
                "failure: mount with same dst already exists",
                ErrorKind::SameDstExists,
            ),
            (
                "failure: can not remove dynamic port",
                ErrorKind::DynamicPort,
            ),
            ("no such item", ErrorKind::NoSuchItem),
            ("failure: file already exists", ErrorKind::AlreadyExists),
            (
                "failure: No file or remote-image specified",
                ErrorKind::NoImageSource,
            ),
            (
                "input does not match any value of interface",
                ErrorKind::NoSuchInterface,
            ),
            ("unknown parameter mountlists", ErrorKind::UnknownParameter),
            ("no such argument (envlist)", ErrorKind::UnknownParameter),
            (
                "no such command or directory (remove)",
                ErrorKind::NoSuchCommand,
            ),
            ("Session closed", ErrorKind::SessionClosed),
            ("SESSION CLOSED", ErrorKind::SessionClosed),
            ("failure: container is not ready", ErrorKind::NotReady),
            ("failure: this is configured elsewhere", ErrorKind::Other),
        ];
        for (detail, kind) in cases {
            assert_eq!(classify(400, detail), kind, "{detail}");
        }
    }

    #[test]
    fn statuses_without_detail() {
        assert_eq!(classify(401, ""), ErrorKind::Unauthorized);
        assert_eq!(classify(404, ""), ErrorKind::NotFound);
        assert_eq!(classify(406, ""), ErrorKind::NoSuchCommand);
        assert_eq!(classify(415, ""), ErrorKind::UnsupportedMediaType);
        assert_eq!(classify(500, ""), ErrorKind::Other);
    }

    #[test]
    fn error_predicates() {
        let e = RosError::Api {
            method: "POST",
            path: "/container/add".into(),
            status: 400,
            message: "Bad Request".into(),
            detail: "Session closed".into(),
            kind: ErrorKind::SessionClosed,
        };
        assert!(e.is_indeterminate() && e.is_retryable() && !e.is_gone());
        let t = RosError::Transport {
            method: "POST",
            path: "/container/start".into(),
            kind: TransportKind::Eof,
            message: "eof".into(),
        };
        assert!(t.is_transport() && t.is_retryable());
    }
}
