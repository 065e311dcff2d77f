//! The swap-in-progress mark (images.md §5.3): written before a replacement touches the device
//! and removed when it ended either way. It holds everything needed to finish or undo the swap
//! after a crash: the old row's id and settings, the new image and the rollback image. While a
//! mark exists, nothing else (bootstrap, a second swap) touches that container.
//!
//! One file per container, `<dir>/swap-<name>.json`, written atomically.

use super::record::write_atomic;
use crate::routeros::{Container, ContainerSpec, ImageSource};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// An image source that can be written down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// `file=`: a docker-save tarball on the device.
    File(String),
    /// `remote-image=` with `check-certificate=no`.
    Remote(String),
}

impl Source {
    pub fn image(&self) -> ImageSource {
        match self {
            Source::File(f) => ImageSource::File(f.clone()),
            Source::Remote(r) => ImageSource::Remote {
                image: r.clone(),
                check_certificate: false,
            },
        }
    }

    /// What a row was created from: its `file`, else its image reference (`repo`, or `tag`
    /// on older versions).
    pub fn of_row(c: &Container) -> Option<Source> {
        if !c.file.is_empty() {
            return Some(Source::File(c.file.clone()));
        }
        let r = if c.repo.is_empty() { &c.tag } else { &c.repo };
        (!r.is_empty()).then(|| Source::Remote(r.clone()))
    }

    /// Whether `row` was created from this source.
    pub fn made(&self, row: &Container) -> bool {
        Source::of_row(row).as_ref() == Some(self)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "file={p}"),
            Source::Remote(r) => write!(f, "remote-image={r}"),
        }
    }
}

/// The settings kept across a replacement (§4.6, §5.3): everything but the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub name: String,
    pub interface: String,
    pub root_dir: String,
    pub mountlists: Vec<String>,
    pub envlists: Vec<String>,
    pub cmd: String,
    pub entrypoint: String,
    pub workdir: String,
    pub user: String,
    pub hostname: String,
    pub dns: String,
    pub logging: bool,
    pub start_on_boot: bool,
}

impl Settings {
    pub fn of(c: &Container) -> Settings {
        Settings::of_spec(&ContainerSpec::from_container(
            c,
            ImageSource::File(String::new()),
        ))
    }

    pub fn of_spec(s: &ContainerSpec) -> Settings {
        Settings {
            name: s.name.clone(),
            interface: s.interface.clone(),
            root_dir: s.root_dir.clone(),
            mountlists: s.mountlists.clone(),
            envlists: s.envlists.clone(),
            cmd: s.cmd.clone(),
            entrypoint: s.entrypoint.clone(),
            workdir: s.workdir.clone(),
            user: s.user.clone(),
            hostname: s.hostname.clone(),
            dns: s.dns.clone(),
            logging: s.logging,
            start_on_boot: s.start_on_boot,
        }
    }

    /// The `/container/add` spec with `source` as the image.
    pub fn spec(&self, source: &Source) -> ContainerSpec {
        let mut s = ContainerSpec::new(&self.name, source.image(), &self.interface, &self.root_dir);
        s.mountlists = self.mountlists.clone();
        s.envlists = self.envlists.clone();
        s.cmd = self.cmd.clone();
        s.entrypoint = self.entrypoint.clone();
        s.workdir = self.workdir.clone();
        s.user = self.user.clone();
        s.hostname = self.hostname.clone();
        s.dns = self.dns.clone();
        s.logging = self.logging;
        s.start_on_boot = self.start_on_boot;
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapMark {
    pub container: String,
    /// The row being replaced (`None` when the swap creates a missing container).
    pub old_id: Option<String>,
    pub settings: Settings,
    pub new_image: Source,
    pub rollback: Option<Source>,
    /// Repository and digest being deployed, when known (mkube-update's swaps).
    pub repo: String,
    pub digest: String,
}

/// The directory holding the marks.
#[derive(Debug, Clone)]
pub struct Marks {
    dir: PathBuf,
}

impl Marks {
    pub fn new(dir: &Path) -> Marks {
        Marks {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, container: &str) -> PathBuf {
        let safe: String = container
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("swap-{safe}.json"))
    }

    pub fn exists(&self, container: &str) -> bool {
        self.path(container).exists()
    }

    pub fn write(&self, mark: &SwapMark) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(mark).unwrap_or_default();
        let path = self.path(&mark.container);
        write_atomic(&path, &bytes).map_err(|e| format!("swap mark {}: {e}", path.display()))
    }

    pub fn clear(&self, container: &str) {
        let path = self.path(container);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(path = %path.display(), error = %e, "swap mark not removed");
        }
    }

    /// Every mark left behind (a crash mid-swap); unreadable files are reported and skipped.
    pub fn pending(&self) -> Vec<SwapMark> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("swap-") && name.ends_with(".json")) {
                continue;
            }
            match std::fs::read(e.path())
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            {
                Ok(m) => out.push(m),
                Err(err) => tracing::error!(file = %name, error = %err, "unreadable swap mark"),
            }
        }
        out.sort_by(|a: &SwapMark, b| a.container.cmp(&b.container));
        out
    }
}
