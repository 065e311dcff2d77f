//! Apply layer tars to root-dir in order, with OCI whiteouts.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::ImportError;
use super::compression::decompressed;
use super::safe_path::{Parent, entry_components, remove_any, resolve_dir};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Applies layers one after another onto one root-dir.
#[derive(Debug)]
pub(crate) struct LayerExtractor {
    root: PathBuf,
    /// Directory modes, applied at the end so read-only dirs don't block later layers.
    dir_modes: Vec<(PathBuf, u32)>,
    layers: usize,
}

impl LayerExtractor {
    pub(crate) fn new(root: &Path) -> Result<Self, ImportError> {
        fs::create_dir_all(root)?;
        Ok(Self {
            root: fs::canonicalize(root)?,
            dir_modes: Vec::new(),
            layers: 0,
        })
    }

    /// Apply one layer read from `reader` (plain tar or gzip).
    pub(crate) fn apply<R: Read>(&mut self, reader: R) -> Result<(), ImportError> {
        let mut tar = tar::Archive::new(decompressed(reader)?);
        // Paths written by this layer: whiteouts only hide lower layers.
        let mut written: HashSet<PathBuf> = HashSet::new();
        let entries = tar.entries().map_err(bad_tar)?;
        for entry in entries {
            let mut entry = entry.map_err(bad_tar)?;
            self.apply_entry(&mut entry, &mut written)?;
        }
        self.layers += 1;
        Ok(())
    }

    /// Finish: set directory modes, return the number of layers applied.
    pub(crate) fn finish(mut self) -> Result<usize, ImportError> {
        self.dir_modes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, mode) in &self.dir_modes {
            match fs::set_permissions(path, fs::Permissions::from_mode(*mode)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(self.layers)
    }

    fn apply_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        written: &mut HashSet<PathBuf>,
    ) -> Result<(), ImportError> {
        let raw_path = entry.path().map_err(bad_tar)?.into_owned();
        let mut parts = entry_components(&raw_path)?;
        let Some(name) = parts.pop() else {
            return Ok(()); // the root itself ("./")
        };
        let kind = entry.header().entry_type();
        let name_str = name.to_string_lossy();

        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            let Parent::Dir(dir) = resolve_dir(&self.root, &parts, false)? else {
                return Ok(());
            };
            if name_str == OPAQUE_MARKER {
                clear_lower(&dir, written)?;
            } else {
                let target = dir.join(hidden);
                if !written.contains(&target) {
                    remove_any(&target)?;
                }
            }
            return Ok(());
        }

        let dir = match resolve_dir(&self.root, &parts, true)? {
            Parent::Dir(dir) => dir,
            _ => {
                tracing::warn!(path = %raw_path.display(), "skipping layer entry outside root-dir");
                return Ok(());
            }
        };
        let target = dir.join(&name);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;

        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(meta) if meta.is_dir() => {}
                    _ => {
                        remove_any(&target)?;
                        fs::create_dir(&target)?;
                    }
                }
                self.dir_modes.push((target.clone(), mode));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_any(&target)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)?;
                io::copy(entry, &mut file)?;
                drop(file);
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| ImportError::Malformed("symlink without target".into()))?;
                remove_any(&target)?;
                std::os::unix::fs::symlink(link.as_ref(), &target)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| ImportError::Malformed("hard link without target".into()))?
                    .into_owned();
                let mut src_parts = entry_components(&link)?;
                let Some(src_name) = src_parts.pop() else {
                    return Ok(());
                };
                let Parent::Dir(src_dir) = resolve_dir(&self.root, &src_parts, false)? else {
                    tracing::warn!(path = %raw_path.display(), "skipping hard link to a missing or outside path");
                    return Ok(());
                };
                let source = src_dir.join(src_name);
                if source == target {
                    return Ok(());
                }
                remove_any(&target)?;
                fs::hard_link(&source, &target)?;
            }
            // Device nodes, fifos and anything else: skipped (spec §5.3).
            _ => return Ok(()),
        }
        written.insert(target);
        Ok(())
    }
}

/// `.wh..wh..opq`: remove everything under `dir` that this layer did not write.
fn clear_lower(dir: &Path, written: &HashSet<PathBuf>) -> io::Result<()> {
    for child in fs::read_dir(dir)? {
        let child = child?;
        let path = child.path();
        if written.contains(&path) {
            if child.file_type()?.is_dir() {
                clear_lower(&path, written)?;
            }
        } else {
            remove_any(&path)?;
        }
    }
    Ok(())
}

fn bad_tar(e: io::Error) -> ImportError {
    ImportError::Malformed(format!("layer is not a valid tar: {e}"))
}
