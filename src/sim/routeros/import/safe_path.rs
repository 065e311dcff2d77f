//! Turn archive entry paths into real paths that never leave root-dir.
//!
//! Entry names are checked lexically (no `..`, not absolute); the parent directory
//! chain is then walked component by component, following symlinks already on disk
//! the way a chroot would (absolute targets restart at root-dir). A chain that
//! climbs above root-dir is reported as [`Parent::Escapes`] and the entry skipped.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};

use super::ImportError;

/// Symlink hops allowed while resolving one path (as Linux' MAXSYMLINKS).
const MAX_HOPS: usize = 40;

/// Normal components of an entry path; `.` and a trailing `/` are dropped.
pub(crate) fn entry_components(path: &Path) -> Result<Vec<OsString>, ImportError> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ImportError::Malformed(format!(
                    "unsafe path {} in layer",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

/// Where a parent directory chain ends up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parent {
    /// Real, symlink-free directory inside root-dir.
    Dir(PathBuf),
    /// The chain resolves outside root-dir.
    Escapes,
    /// Some directory of the chain does not exist (only when not creating).
    Missing,
}

/// Resolve the directory formed by `dirs` under `root`. With `create`, missing
/// directories are made (0755) and non-directories in the way are replaced.
pub(crate) fn resolve_dir(root: &Path, dirs: &[OsString], create: bool) -> io::Result<Parent> {
    let mut stack: Vec<OsString> = Vec::new();
    let mut pending: VecDeque<OsString> = dirs.iter().cloned().collect();
    let mut hops = 0;
    while let Some(name) = pending.pop_front() {
        if name == OsStr::new("..") {
            if stack.pop().is_none() {
                return Ok(Parent::Escapes);
            }
            continue;
        }
        if name == OsStr::new(".") || name.is_empty() {
            continue;
        }
        let here = join(root, &stack).join(&name);
        match std::fs::symlink_metadata(&here) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Ok(Parent::Escapes);
                }
                let target = std::fs::read_link(&here)?;
                if target.is_absolute() {
                    stack.clear();
                }
                let mut expanded: Vec<OsString> = Vec::new();
                for c in target.components() {
                    match c {
                        Component::Normal(n) => expanded.push(n.to_os_string()),
                        Component::ParentDir => expanded.push(OsString::from("..")),
                        _ => {}
                    }
                }
                for c in expanded.into_iter().rev() {
                    pending.push_front(c);
                }
            }
            Ok(meta) if meta.is_dir() => stack.push(name),
            Ok(_) if create => {
                std::fs::remove_file(&here)?;
                make_dir(&here)?;
                stack.push(name);
            }
            Ok(_) => return Ok(Parent::Missing),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                make_dir(&here)?;
                stack.push(name);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Parent::Missing),
            Err(e) => return Err(e),
        }
    }
    Ok(Parent::Dir(join(root, &stack)))
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

fn make_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o755).create(path)
}

/// Remove whatever is at `path` without following a symlink there.
pub(crate) fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
