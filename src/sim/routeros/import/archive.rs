//! `file=` imports: docker-save archives (§3.1 `file=` row, §5.1 item 7).
//!
//! The outer tar (decompressed to a scratch file first when gzip'd) is indexed
//! once; `manifest.json` names the config and the layers, which are then read in
//! manifest order straight from their offsets in the archive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::compression::{Compression, sniff, zstd_unsupported};
use super::layers::LayerExtractor;
use super::scratch::Scratch;
use super::{ImportError, ImportOutcome};

/// Largest `manifest.json` accepted.
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Symlink hops followed between archive entries (docker 25+ links `<id>/layer.tar` to blobs).
const MAX_ENTRY_HOPS: usize = 8;

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Debug)]
enum Slot {
    Data { offset: u64, size: u64 },
    Link(String),
}

pub(crate) fn extract(archive: &Path, root: &Path) -> Result<ImportOutcome, ImportError> {
    let file = File::open(archive).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            ImportError::NotFound(format!("file {} not found", archive.display()))
        }
        _ => ImportError::Io(e),
    })?;
    let (mut tarfile, _scratch) = plain_tar(file)?;
    let (index, manifest) = index_archive(&mut tarfile)?;
    let manifest =
        manifest.ok_or_else(|| ImportError::Malformed("no manifest.json in archive".into()))?;
    let entries: Vec<ManifestEntry> = serde_json::from_slice(&manifest)
        .map_err(|e| ImportError::Malformed(format!("bad manifest.json: {e}")))?;
    let image = entries
        .into_iter()
        .next()
        .ok_or_else(|| ImportError::Malformed("empty manifest.json".into()))?;
    let (config_at, config_size) = lookup(&index, &image.config)?;
    let config = if config_size <= MAX_MANIFEST {
        let mut buf = Vec::new();
        tarfile.seek(SeekFrom::Start(config_at))?;
        (&mut tarfile).take(config_size).read_to_end(&mut buf)?;
        Some(buf)
    } else {
        None
    };
    let slots = image
        .layers
        .iter()
        .map(|layer| lookup(&index, layer))
        .collect::<Result<Vec<_>, _>>()?;

    let mut extractor = LayerExtractor::new(root)?;
    let mut bytes = 0;
    for (offset, size) in slots {
        tarfile.seek(SeekFrom::Start(offset))?;
        extractor.apply(BufReader::new((&mut tarfile).take(size)))?;
        bytes += size;
    }
    let layers = extractor.finish()?;
    Ok(ImportOutcome {
        bytes,
        layers,
        digest: None,
        config,
    })
}

/// The archive as a seekable plain tar: as is, or gunzipped into a scratch file.
fn plain_tar(file: File) -> Result<(File, Option<Scratch>), ImportError> {
    let mut reader = BufReader::new(file);
    match sniff(&mut reader)? {
        Compression::None => {
            let mut file = reader.into_inner();
            file.seek(SeekFrom::Start(0))?;
            Ok((file, None))
        }
        Compression::Zstd => Err(zstd_unsupported()),
        Compression::Gzip => {
            let scratch = Scratch::new("archive");
            let mut out = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(scratch.path())?;
            let mut gz = flate2::read::MultiGzDecoder::new(reader);
            io::copy(&mut gz, &mut out)
                .map_err(|e| ImportError::Malformed(format!("bad gzip archive: {e}")))?;
            out.seek(SeekFrom::Start(0))?;
            Ok((out, Some(scratch)))
        }
    }
}

/// Every entry's data offset (or link target), plus `manifest.json`'s bytes.
#[allow(clippy::type_complexity)]
fn index_archive(file: &mut File) -> Result<(HashMap<String, Slot>, Option<Vec<u8>>), ImportError> {
    let bad = |e: io::Error| ImportError::Malformed(format!("not a docker image archive: {e}"));
    let mut tar = tar::Archive::new(file);
    let mut index = HashMap::new();
    let mut manifest = None;
    for entry in tar.entries_with_seek().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?;
        let Some(key) = normalise(&path) else {
            continue;
        };
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if let Some(target) = entry.link_name().map_err(bad)? {
                let base = Path::new(&key).parent().unwrap_or(Path::new(""));
                if let Some(resolved) = normalise(&base.join(target)) {
                    index.insert(key, Slot::Link(resolved));
                }
            }
            continue;
        }
        if kind.is_hard_link() {
            if let Some(target) = entry.link_name().map_err(bad)?.and_then(|t| normalise(&t)) {
                index.insert(key, Slot::Link(target));
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if key == "manifest.json" {
            if entry.size() > MAX_MANIFEST {
                return Err(ImportError::Malformed("manifest.json too large".into()));
            }
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(bad)?;
            manifest = Some(buf);
        }
        let slot = Slot::Data {
            offset: entry.raw_file_position(),
            size: entry.size(),
        };
        index.insert(key, slot);
    }
    Ok((index, manifest))
}

/// Archive-relative name with `.` removed and `..` folded; `None` if it climbs out.
fn normalise(path: &Path) -> Option<String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(
        parts
            .iter()
            .collect::<PathBuf>()
            .to_string_lossy()
            .into_owned(),
    )
}

fn lookup(index: &HashMap<String, Slot>, name: &str) -> Result<(u64, u64), ImportError> {
    let missing = || ImportError::Malformed(format!("{name} missing in archive"));
    let mut key = normalise(Path::new(name)).ok_or_else(missing)?;
    for _ in 0..MAX_ENTRY_HOPS {
        match index.get(&key).ok_or_else(missing)? {
            Slot::Data { offset, size } => return Ok((*offset, *size)),
            Slot::Link(target) => key = target.clone(),
        }
    }
    Err(missing())
}
