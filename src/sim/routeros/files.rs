//! `/file`: the disk root seen as RouterOS files (spec §4.7). Dot-files are hidden.

use std::path::{Component, Path, PathBuf};

use super::device::Device;
use super::errors::ApiError;
use super::rows::{Row, fmt_id};

/// One entry under the disk root.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub name: String,
    pub is_dir: bool,
    pub top_level: bool,
    pub size: u64,
    pub modified: Option<std::time::SystemTime>,
    pub contents: Option<String>,
}

const CONTENTS_LIMIT: u64 = 4096;

/// Device path (leading `/` optional) → path relative to the disk root; `..` refused.
pub fn rel_path(name: &str) -> Result<PathBuf, ApiError> {
    let trimmed = name.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(ApiError::bad("invalid value for argument name"));
    }
    let p = PathBuf::from(trimmed);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(ApiError::bad("invalid value for argument name"));
    }
    Ok(p)
}

/// Walks the whole tree (blocking).
pub fn walk(root: &Path) -> Vec<FileEntry> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut items: Vec<_> = rd.flatten().collect();
        items.sort_by_key(|e| e.file_name());
        for e in items {
            let fname = e.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let name = if prefix.is_empty() {
                fname.clone()
            } else {
                format!("{prefix}/{fname}")
            };
            let is_dir = meta.is_dir();
            let contents = if meta.is_file() && meta.len() <= CONTENTS_LIMIT {
                std::fs::read(e.path())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            } else {
                None
            };
            out.push(FileEntry {
                name: name.clone(),
                is_dir,
                top_level: prefix.is_empty(),
                size: meta.len(),
                modified: meta.modified().ok(),
                contents,
            });
            if is_dir {
                stack.push((e.path(), name));
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn file_type(e: &FileEntry) -> String {
    if e.is_dir {
        return if e.top_level { "disk" } else { "directory" }.into();
    }
    match Path::new(&e.name).extension() {
        Some(ext) => format!(".{} file", ext.to_string_lossy()),
        None => "file".into(),
    }
}

impl Device {
    /// Turns walked entries into rows, giving each path a stable id for this run.
    pub fn file_rows(&mut self, entries: &[FileEntry]) -> Vec<Row> {
        let mut rows = Vec::with_capacity(entries.len());
        for e in entries {
            let id = match self.t.file_ids.get(&e.name) {
                Some(id) => *id,
                None => {
                    let id = self.t.alloc();
                    self.t.file_ids.insert(e.name.clone(), id);
                    self.rt.dirty = true;
                    id
                }
            };
            let mut r = Row::new();
            r.insert(".id".into(), fmt_id(id));
            r.insert("name".into(), e.name.clone());
            r.insert("type".into(), file_type(e));
            if !e.is_dir {
                r.insert("size".into(), e.size.to_string());
            }
            if let Some(m) = e.modified {
                let t: chrono::DateTime<chrono::Local> = m.into();
                r.insert(
                    "last-modified".into(),
                    t.format("%Y-%m-%d %H:%M:%S").to_string(),
                );
            }
            if let Some(c) = &e.contents {
                r.insert("contents".into(), c.clone());
            }
            rows.push(r);
        }
        rows
    }

    /// `numbers`/`.id` (comma list of ids or paths) → relative paths.
    pub fn file_targets(&self, target: &str) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        for t in super::rows::split_list(target) {
            let name = match super::rows::parse_id(&t) {
                Some(id) => self
                    .t
                    .file_ids
                    .iter()
                    .find(|(_, v)| **v == id)
                    .map(|(k, _)| k.clone())
                    .ok_or_else(ApiError::no_such_item)?,
                None => t.trim_start_matches('/').trim_end_matches('/').to_string(),
            };
            let rel = rel_path(&name).map_err(|_| ApiError::no_such_item())?;
            if !self.disk_root.join(&rel).exists() || is_hidden(&rel) {
                return Err(ApiError::no_such_item());
            }
            out.push(name);
        }
        if out.is_empty() {
            return Err(ApiError::no_such_item());
        }
        Ok(out)
    }

    pub fn file_add(
        &mut self,
        name: &str,
        kind: Option<&str>,
        contents: Option<&str>,
    ) -> Result<u64, ApiError> {
        let rel = rel_path(name)?;
        let abs = self.disk_root.join(&rel);
        if abs.exists() {
            return Err(ApiError::failure("already exist"));
        }
        let parent_ok = abs.parent().map(|p| p.is_dir()).unwrap_or(false);
        if !parent_ok {
            return Err(ApiError::failure("no such directory"));
        }
        let res = match kind.unwrap_or("file") {
            "directory" => std::fs::create_dir(&abs),
            "file" => std::fs::write(&abs, contents.unwrap_or("")),
            other => {
                return Err(ApiError::bad(format!(
                    "invalid value for argument type: {other}"
                )));
            }
        };
        res.map_err(|e| ApiError::failure(&e.to_string()))?;
        let key = rel.to_string_lossy().into_owned();
        let id = self.t.alloc();
        self.t.file_ids.insert(key, id);
        self.rt.dirty = true;
        Ok(id)
    }

    pub fn file_rename(&mut self, old: &str, new: &str) -> Result<(), ApiError> {
        let new_rel = rel_path(new)?;
        let new_abs = self.disk_root.join(&new_rel);
        if new_abs.exists() {
            return Err(ApiError::failure("already exist"));
        }
        std::fs::rename(self.disk_root.join(old), &new_abs)
            .map_err(|e| ApiError::failure(&e.to_string()))?;
        let new_key = new_rel.to_string_lossy().into_owned();
        let prefix = format!("{old}/");
        let moved: Vec<(String, u64)> = self
            .t
            .file_ids
            .iter()
            .filter(|(k, _)| *k == old || k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for (k, v) in moved {
            self.t.file_ids.remove(&k);
            let nk = format!("{new_key}{}", &k[old.len()..]);
            self.t.file_ids.insert(nk, v);
        }
        self.rt.dirty = true;
        Ok(())
    }

    pub fn file_remove(&mut self, name: &str) -> Result<(), ApiError> {
        let abs = self.disk_root.join(name);
        let res = if abs.is_dir() {
            std::fs::remove_dir_all(&abs)
        } else {
            std::fs::remove_file(&abs)
        };
        res.map_err(|e| ApiError::failure(&e.to_string()))?;
        let prefix = format!("{name}/");
        self.t
            .file_ids
            .retain(|k, _| k != name && !k.starts_with(&prefix));
        self.rt.dirty = true;
        Ok(())
    }
}

fn is_hidden(rel: &Path) -> bool {
    rel.components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}
