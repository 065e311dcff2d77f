//! Device version → property names (§1.12), read once from `/system/resource`.

use super::error::RosError;
use std::fmt;

/// A RouterOS version such as `7.22.2 (stable)` or `7.23beta2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RosVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl RosVersion {
    /// The oldest version mkube runs against.
    pub const MINIMUM: RosVersion = RosVersion::new(7, 21, 0);

    pub const fn new(major: u32, minor: u32, patch: u32) -> RosVersion {
        RosVersion {
            major,
            minor,
            patch,
        }
    }

    /// Parses `7.22.2 (stable)`, `7.23beta2`, `7.21rc1`, `7.21`.
    pub fn parse(text: &str) -> Option<RosVersion> {
        let word = text.split_whitespace().next()?;
        let mut parts = word.split('.');
        let num = |s: Option<&str>| -> Option<u32> {
            let s = s?;
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = num(parts.next()).unwrap_or(0);
        Some(RosVersion::new(major, minor, patch))
    }

    /// At least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for RosVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How a container row reports its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateStyle {
    /// ≤ 7.19: one `status` text.
    StatusText,
    /// 7.20+: boolean flags `extracting`, `stopped`, `running`, ….
    Flags,
}

/// What `add` does when root-dir already holds files (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingRootDir {
    /// 7.21/7.22: extraction is skipped and the old files run.
    Reused,
    /// 7.23+: `add` fails.
    Rejected,
}

/// Property names for the device's version (§1.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyNames {
    pub version: RosVersion,
    /// Container property referencing mount lists (`mountlists` / `mounts`).
    pub container_mounts: &'static str,
    /// Container property referencing env lists (`envlists` / `envlist`).
    pub container_envs: &'static str,
    /// Grouping property of `/container/mounts` (`list` / `name`).
    pub mount_group: &'static str,
    /// Grouping property of `/container/envs` (`list` / `name`).
    pub env_group: &'static str,
    /// Target argument of start/stop (`numbers` / `number`). mkube sends `.id`,
    /// which every version accepts; kept for reference.
    pub start_target: &'static str,
    pub state_style: StateStyle,
    pub existing_root_dir: ExistingRootDir,
    /// Whether `check-certificate` exists on add (7.20+).
    pub check_certificate: bool,
}

impl PropertyNames {
    /// Names for `version` (any version; the gate is separate).
    pub fn for_version(version: RosVersion) -> PropertyNames {
        let v721 = version.at_least(7, 21);
        let v720 = version.at_least(7, 20);
        PropertyNames {
            version,
            container_mounts: if v721 { "mountlists" } else { "mounts" },
            container_envs: if v720 { "envlists" } else { "envlist" },
            mount_group: if v721 { "list" } else { "name" },
            env_group: if v720 { "list" } else { "name" },
            start_target: if v720 { "numbers" } else { "number" },
            state_style: if v720 {
                StateStyle::Flags
            } else {
                StateStyle::StatusText
            },
            existing_root_dir: if version.at_least(7, 23) {
                ExistingRootDir::Rejected
            } else {
                ExistingRootDir::Reused
            },
            check_certificate: v720,
        }
    }
}

/// Refuses versions below 7.21 with a clear error.
pub fn check_version(text: &str) -> Result<RosVersion, RosError> {
    let version = RosVersion::parse(text).ok_or_else(|| RosError::Decode {
        path: "/system/resource".into(),
        message: format!("unparsable version {text:?}"),
    })?;
    if version < RosVersion::MINIMUM {
        return Err(RosError::UnsupportedVersion {
            version: text.to_string(),
            minimum: "7.21".into(),
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            RosVersion::parse("7.22.2 (stable)"),
            Some(RosVersion::new(7, 22, 2))
        );
        assert_eq!(
            RosVersion::parse("7.23beta2"),
            Some(RosVersion::new(7, 23, 0))
        );
        assert_eq!(RosVersion::parse("7.21"), Some(RosVersion::new(7, 21, 0)));
        assert_eq!(RosVersion::parse("garbage"), None);
    }

    #[test]
    fn gate() {
        assert!(check_version("7.21.1 (stable)").is_ok());
        assert!(check_version("7.23beta2 (testing)").is_ok());
        let err = check_version("7.20.8 (long-term)").unwrap_err();
        assert!(matches!(err, RosError::UnsupportedVersion { .. }));
        assert!(err.to_string().contains("7.21"));
        assert!(check_version("7.19").is_err());
        assert!(check_version("").is_err());
    }

    #[test]
    fn names_by_version() {
        let n = PropertyNames::for_version(RosVersion::new(7, 22, 2));
        assert_eq!(n.container_mounts, "mountlists");
        assert_eq!(n.container_envs, "envlists");
        assert_eq!(n.mount_group, "list");
        assert_eq!(n.state_style, StateStyle::Flags);
        assert_eq!(n.existing_root_dir, ExistingRootDir::Reused);
        let n = PropertyNames::for_version(RosVersion::new(7, 19, 0));
        assert_eq!(n.container_mounts, "mounts");
        assert_eq!(n.container_envs, "envlist");
        assert_eq!(n.start_target, "number");
        assert_eq!(n.state_style, StateStyle::StatusText);
        let n = PropertyNames::for_version(RosVersion::new(7, 23, 0));
        assert_eq!(n.existing_root_dir, ExistingRootDir::Rejected);
    }
}
