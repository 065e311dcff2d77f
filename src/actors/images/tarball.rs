//! The tarball RouterOS accepts (images.md §3.8): every layer flattened into one uncompressed
//! tar with OCI whiteouts applied (upper layers win), wrapped in a docker-save v1 archive.
//!
//! Two passes over the layer files: the first reads only headers and folds the final tree
//! (path → winning entry); the second streams the winners' contents into the flattened tar while
//! hashing it. File contents are never held in memory; only the index of paths is.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use tar::EntryType;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What the archive is built from.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// Layer blobs in manifest order (plain tar or gzip).
    pub layers: &'a [PathBuf],
    /// The image config blob as pulled.
    pub config: &'a [u8],
    /// `RepoTags` repository (no registry host) and tag.
    pub repo: &'a str,
    pub tag: &'a str,
    pub arch: &'a str,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub size: u64,
    /// `<L>`: hex sha256 of the flattened layer tar.
    pub layer_id: String,
    /// `<cfghex>`: hex sha256 of the config JSON as written.
    pub config_id: String,
}

#[derive(Debug, Clone, Copy)]
struct Winner {
    layer: usize,
    index: usize,
    is_dir: bool,
}

/// Writes the archive to `dest` (created new), flushing and fsyncing it. `work` holds the
/// flattened layer while it is built. Blocking: call from `spawn_blocking`.
pub fn build(src: &Source<'_>, work: &Path, dest: &Path) -> io::Result<Built> {
    let tree = fold_tree(src.layers)?;
    let flat_path = work.join("flattened.tar");
    let layer_id = write_flattened(src.layers, &tree, &flat_path)?;
    let run = run_config(src.config);
    let config_bytes = serde_json::to_vec(&ImageConfig {
        architecture: src.arch,
        os: "linux",
        config: run.as_ref(),
        rootfs: RootFs {
            kind: "layers",
            diff_ids: vec![format!("sha256:{layer_id}")],
        },
    })
    .map_err(io::Error::other)?;
    let config_id = hex::encode(Sha256::digest(&config_bytes));
    let manifest = serde_json::json!([{
        "Config": format!("{config_id}.json"),
        "RepoTags": [format!("{}:{}", src.repo, src.tag)],
        "Layers": [format!("{layer_id}/layer.tar")],
    }]);
    let repositories = serde_json::json!({ src.repo: { src.tag: &layer_id } });
    let layer_json = serde_json::to_vec(&LayerJson {
        id: &layer_id,
        created: "1970-01-01T00:00:00Z",
        config: run.as_ref(),
    })
    .map_err(io::Error::other)?;

    let file = File::options().write(true).create_new(true).open(dest)?;
    let mut out = tar::Builder::new(BufWriter::new(file));
    add_file(&mut out, "manifest.json", &serde_json::to_vec(&manifest)?)?;
    add_file(
        &mut out,
        "repositories",
        &serde_json::to_vec(&repositories)?,
    )?;
    add_file(&mut out, &format!("{config_id}.json"), &config_bytes)?;
    add_file(&mut out, &format!("{layer_id}/VERSION"), b"1.0")?;
    add_file(&mut out, &format!("{layer_id}/json"), &layer_json)?;
    let flat = File::open(&flat_path)?;
    let flat_len = flat.metadata()?.len();
    let mut h = plain_header(flat_len);
    out.append_data(
        &mut h,
        format!("{layer_id}/layer.tar"),
        BufReader::new(flat),
    )?;
    let writer = out.into_inner()?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let size = file.metadata()?.len();
    let _ = std::fs::remove_file(&flat_path);
    Ok(Built {
        size,
        layer_id,
        config_id,
    })
}

fn plain_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(size);
    h
}

fn add_file<W: Write>(out: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = plain_header(data.len() as u64);
    out.append_data(&mut h, name, data)
}

#[derive(Serialize)]
struct ImageConfig<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'a RunConfig>,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
struct LayerJson<'a> {
    id: &'a str,
    created: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'a RunConfig>,
}

/// The kept part of the image's run config: `Entrypoint`, `Cmd`, `WorkingDir`, `Env`.
#[derive(Debug, Default, Serialize)]
struct RunConfig {
    #[serde(rename = "Entrypoint", skip_serializing_if = "Vec::is_empty")]
    entrypoint: Vec<String>,
    #[serde(rename = "Cmd", skip_serializing_if = "Vec::is_empty")]
    cmd: Vec<String>,
    #[serde(rename = "WorkingDir", skip_serializing_if = "String::is_empty")]
    working_dir: String,
    #[serde(rename = "Env", skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
}

fn run_config(raw: &[u8]) -> Option<RunConfig> {
    let v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let c = v.get("config")?;
    let strings = |k: &str| -> Vec<String> {
        c.get(k)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let run = RunConfig {
        entrypoint: strings("Entrypoint"),
        cmd: strings("Cmd"),
        working_dir: c
            .get("WorkingDir")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string(),
        env: strings("Env"),
    };
    let empty = run.entrypoint.is_empty()
        && run.cmd.is_empty()
        && run.working_dir.is_empty()
        && run.env.is_empty();
    (!empty).then_some(run)
}

fn open_layer(path: &Path) -> io::Result<tar::Archive<Box<dyn Read>>> {
    let mut reader = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let head = io::BufRead::fill_buf(&mut reader)?;
    let inner: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(io::Error::other("zstd compressed layers are not supported"));
    } else {
        Box::new(reader)
    };
    Ok(tar::Archive::new(inner))
}

/// `./a/b/` → `a/b`; `None` for the root itself; `..` and absolute paths are refused.
fn clean(path: &Path) -> io::Result<Option<String>> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::other(format!(
                    "unsafe path {} in layer",
                    path.display()
                )));
            }
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Removes `path`'s descendants from `tree` whose layer is below `layer`.
fn remove_lower_children(tree: &mut BTreeMap<String, Winner>, dir: &str, layer: usize) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let doomed: Vec<String> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, w)| w.layer < layer)
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        tree.remove(&k);
    }
}

/// Pass 1: the final tree, folding layers bottom-up with whiteouts.
fn fold_tree(layers: &[PathBuf]) -> io::Result<BTreeMap<String, Winner>> {
    let mut tree: BTreeMap<String, Winner> = BTreeMap::new();
    for (layer, path) in layers.iter().enumerate() {
        let mut archive = open_layer(path)?;
        for (index, entry) in archive.entries()?.enumerate() {
            let entry = entry?;
            let Some(p) = clean(&entry.path()?)? else {
                continue;
            };
            let (dir, name) = split(&p);
            if name == OPAQUE_MARKER {
                remove_lower_children(&mut tree, dir, layer);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let target = if dir.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{dir}/{hidden}")
                };
                if tree.get(&target).is_some_and(|w| w.layer < layer) {
                    tree.remove(&target);
                }
                remove_lower_children(&mut tree, &target, layer);
                continue;
            }
            let kind = entry.header().entry_type();
            if !emitted_kind(kind) {
                continue;
            }
            let is_dir = kind == EntryType::Directory;
            // A non-directory lower entry on the way is replaced by an implied directory.
            let mut ancestor = dir;
            while !ancestor.is_empty() {
                if tree.get(ancestor).is_some_and(|w| !w.is_dir) {
                    tree.remove(ancestor);
                }
                ancestor = split(ancestor).0;
            }
            if !is_dir {
                remove_lower_children(&mut tree, &p, layer + 1);
            }
            tree.insert(
                p,
                Winner {
                    layer,
                    index,
                    is_dir,
                },
            );
        }
    }
    Ok(tree)
}

fn emitted_kind(kind: EntryType) -> bool {
    matches!(
        kind,
        EntryType::Regular
            | EntryType::Continuous
            | EntryType::Directory
            | EntryType::Symlink
            | EntryType::Link
            | EntryType::Char
            | EntryType::Block
            | EntryType::Fifo
    )
}

struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Pass 2: stream the winners, bottom layer first, into `dest`; returns its hex sha256.
fn write_flattened(
    layers: &[PathBuf],
    tree: &BTreeMap<String, Winner>,
    dest: &Path,
) -> io::Result<String> {
    let winners: HashSet<(usize, usize)> = tree.values().map(|w| (w.layer, w.index)).collect();
    let file = File::options().write(true).create_new(true).open(dest)?;
    let mut out = tar::Builder::new(Hashing {
        inner: BufWriter::new(file),
        hasher: Sha256::new(),
    });
    out.mode(tar::HeaderMode::Complete);
    let mut emitted: HashSet<String> = HashSet::new();
    for (layer, path) in layers.iter().enumerate() {
        let mut archive = open_layer(path)?;
        for (index, entry) in archive.entries()?.enumerate() {
            let mut entry = entry?;
            if !winners.contains(&(layer, index)) {
                continue;
            }
            let Some(p) = clean(&entry.path()?)? else {
                continue;
            };
            let mut h = entry.header().clone();
            match h.entry_type() {
                EntryType::Regular | EntryType::Continuous => {
                    h.set_entry_type(EntryType::Regular);
                    out.append_data(&mut h, &p, &mut entry)?;
                }
                EntryType::Symlink => {
                    let target = entry
                        .link_name()?
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    h.set_size(0);
                    out.append_link(&mut h, &p, target)?;
                }
                EntryType::Link => {
                    let Some(target) = entry.link_name()?.map(|t| t.into_owned()) else {
                        continue;
                    };
                    let Some(target) = clean(&target)? else {
                        continue;
                    };
                    if !emitted.contains(&target) {
                        tracing::warn!(path = %p, %target, "hard link to a file not in the flattened image skipped");
                        continue;
                    }
                    h.set_size(0);
                    out.append_link(&mut h, &p, &target)?;
                }
                _ => {
                    h.set_size(0);
                    out.append_data(&mut h, &p, io::empty())?;
                }
            }
            emitted.insert(p);
        }
    }
    let hashing = out.into_inner()?;
    let digest = hex::encode(hashing.hasher.finalize());
    let file = hashing.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    enum T<'a> {
        Dir(&'a str),
        File(&'a str, &'a str),
    }

    fn layer(dir: &Path, name: &str, entries: &[T<'_>]) -> PathBuf {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_gnu();
            match e {
                T::Dir(p) => {
                    h.set_entry_type(EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    b.append_data(&mut h, p, io::empty()).unwrap();
                }
                T::File(p, d) => {
                    h.set_mode(0o644);
                    h.set_size(d.len() as u64);
                    b.append_data(&mut h, p, d.as_bytes()).unwrap();
                }
            }
        }
        let path = dir.join(name);
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        path
    }

    fn paths(tree: &BTreeMap<String, Winner>) -> Vec<&str> {
        tree.keys().map(String::as_str).collect()
    }

    #[test]
    fn upper_file_replaces_lower_dir_and_whiteouts_hide_whole_trees() {
        let dir = tempfile::tempdir().unwrap();
        let l0 = layer(
            dir.path(),
            "0",
            &[
                T::Dir("a"),
                T::File("a/x", "1"),
                T::Dir("b"),
                T::File("b/y", "2"),
                T::File("c", "3"),
            ],
        );
        let l1 = layer(
            dir.path(),
            "1",
            &[
                T::File("a", "now a file"),
                T::File(".wh.b", ""),
                T::Dir("c"),
                T::File("c/z", "4"),
            ],
        );
        let tree = fold_tree(&[l0.clone(), l1.clone()]).unwrap();
        assert_eq!(paths(&tree), ["a", "c", "c/z"]);
        assert!(!tree["a"].is_dir && tree["c"].is_dir);

        // An opaque marker at the root hides everything below, but not its own layer.
        let l2 = layer(
            dir.path(),
            "2",
            &[T::File("new", "n"), T::File(".wh..wh..opq", "")],
        );
        let tree = fold_tree(&[l0, l1, l2]).unwrap();
        assert_eq!(paths(&tree), ["new"]);
    }

    #[test]
    fn run_config_keeps_four_fields_and_is_omitted_when_empty() {
        let raw = br#"{"config":{"Cmd":["x"],"User":"u","Labels":{"a":"b"}}}"#;
        let run = run_config(raw).unwrap();
        assert_eq!(serde_json::to_string(&run).unwrap(), r#"{"Cmd":["x"]}"#);
        assert!(run_config(br#"{"config":{"User":"u"}}"#).is_none());
        assert!(run_config(b"not json").is_none());
    }
}
