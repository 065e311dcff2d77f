//! RouterOS version profiles: property names and behaviours that differ (spec §1.12, §3.4).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Profile {
    V7_19,
    V7_21,
    #[default]
    V7_22,
    V7_23,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "7.19" => Ok(Profile::V7_19),
            "7.21" => Ok(Profile::V7_21),
            "7.22" => Ok(Profile::V7_22),
            "7.23" => Ok(Profile::V7_23),
            other => Err(format!(
                "unknown profile {other:?} (7.19, 7.21, 7.22, 7.23)"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::V7_19 => "7.19",
            Profile::V7_21 => "7.21",
            Profile::V7_22 => "7.22",
            Profile::V7_23 => "7.23",
        })
    }
}

const CONTAINER_COMMON: &[&str] = &[
    "name",
    "file",
    "remote-image",
    "interface",
    "root-dir",
    "cmd",
    "entrypoint",
    "workdir",
    "user",
    "hostname",
    "domain-name",
    "dns",
    "logging",
    "start-on-boot",
    "comment",
    "stop-signal",
    "memory-high",
    "auto-restart-interval",
];

impl Profile {
    /// `version` of `/system/resource`.
    pub fn version(&self) -> &'static str {
        match self {
            Profile::V7_19 => "7.19.6 (stable)",
            Profile::V7_21 => "7.21.3 (stable)",
            Profile::V7_22 => "7.22.2 (stable)",
            Profile::V7_23 => "7.23.1 (stable)",
        }
    }

    /// Boolean state flags (7.20+) instead of the `status` text (≤7.19).
    pub fn state_flags(&self) -> bool {
        *self >= Profile::V7_21
    }

    /// Name of the container property referencing mount lists.
    pub fn mounts_ref(&self) -> &'static str {
        if *self >= Profile::V7_21 {
            "mountlists"
        } else {
            "mounts"
        }
    }

    /// Name of the container property referencing env lists.
    pub fn envs_ref(&self) -> &'static str {
        if *self >= Profile::V7_21 {
            "envlists"
        } else {
            "envlist"
        }
    }

    /// Grouping property of `/container/mounts`.
    pub fn mount_group(&self) -> &'static str {
        if *self >= Profile::V7_21 {
            "list"
        } else {
            "name"
        }
    }

    /// Grouping property of `/container/envs`.
    pub fn env_group(&self) -> &'static str {
        if *self >= Profile::V7_21 {
            "list"
        } else {
            "name"
        }
    }

    /// Target argument of start/stop.
    pub fn target_arg(&self) -> &'static str {
        if *self >= Profile::V7_21 {
            "numbers"
        } else {
            "number"
        }
    }

    /// Whether `add` refuses an existing root-dir (7.23) instead of reusing it.
    pub fn rejects_existing_root_dir(&self) -> bool {
        *self >= Profile::V7_23
    }

    pub fn container_props(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = CONTAINER_COMMON.to_vec();
        v.push(self.mounts_ref());
        v.push(self.envs_ref());
        if *self >= Profile::V7_21 {
            v.extend([
                "check-certificate",
                "mount",
                "env",
                "layer-dir",
                "stop-time",
                "cpu-list",
                "hosts",
            ]);
        }
        if *self >= Profile::V7_22 {
            v.extend(["healthcheck"]);
        }
        if *self >= Profile::V7_23 {
            v.extend(["restart-policy", "memory-max"]);
        }
        v
    }

    pub fn mount_props(&self) -> Vec<&'static str> {
        let mut v = vec![self.mount_group(), "src", "dst", "comment"];
        match self {
            Profile::V7_19 => {}
            Profile::V7_21 | Profile::V7_22 => v.extend(["read-only", "disabled"]),
            Profile::V7_23 => v.extend(["mode", "disabled"]),
        }
        v
    }

    pub fn env_props(&self) -> Vec<&'static str> {
        let mut v = vec![self.env_group(), "key", "value", "comment"];
        if *self >= Profile::V7_21 {
            v.push("disabled");
        }
        v
    }

    pub fn config_props(&self) -> Vec<&'static str> {
        let mut v = vec![
            "registry-url",
            "tmpdir",
            "layer-dir",
            "username",
            "password",
        ];
        v.push(if *self >= Profile::V7_21 {
            "memory-high"
        } else {
            "ram-high"
        });
        if *self >= Profile::V7_23 {
            v.push("memory-max");
        }
        v
    }
}
