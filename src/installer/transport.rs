//! How files reach the device (routeros-rest.md §4.7–§4.8), by means a RouterOS 7 device
//! offers over its REST API alone (no SSH keys needed):
//! - a small text file (≤ [`CONTENTS_LIMIT`]) is written with `/file/add contents=` or, when
//!   it exists, `/file/set contents=`; the device shows such a file's `contents`, so a re-run
//!   compares the text and writes nothing when it matches;
//! - a larger file is fetched by the device itself (`/tool/fetch`) from the installer's own
//!   HTTP server ([`super::serve`]); the device does not show its contents, so a small
//!   `<file>.sha256` beside it records what was fetched and a re-run compares that.

use std::net::SocketAddr;

use sha2::{Digest, Sha256};

use super::configs::DesiredFile;
use super::observe::Observed;
use super::serve::FileServer;
use crate::routeros::{RosClient, RosError};

/// Largest file sent as `contents` (the device shows `contents` of files below 4 KiB).
pub const CONTENTS_LIMIT: usize = 4000;

/// The checksum file beside a fetched file.
pub fn sidecar(path: &str) -> String {
    format!("{path}.sha256")
}

/// How one file will travel, if at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Unchanged,
    Contents {
        text: String,
        exists: bool,
    },
    Fetch {
        sha256: String,
        sidecar_exists: bool,
    },
}

/// Decides from the observation alone.
pub fn plan(file: &DesiredFile, observed: &Observed) -> Plan {
    let present = observed.file(&file.path);
    if file.keep_existing && present.is_some() {
        return Plan::Unchanged;
    }
    if file.contents.len() <= CONTENTS_LIMIT
        && let Ok(text) = std::str::from_utf8(&file.contents)
    {
        return match present {
            Some(f) if f.contents.as_deref() == Some(text) => Plan::Unchanged,
            Some(_) => Plan::Contents {
                text: text.to_string(),
                exists: true,
            },
            None => Plan::Contents {
                text: text.to_string(),
                exists: false,
            },
        };
    }
    let sha256 = hex::encode(Sha256::digest(&file.contents));
    let recorded = observed.contents(&sidecar(&file.path)).map(str::trim);
    let same_size = present.is_some_and(|f| f.size == file.contents.len() as u64);
    if same_size && recorded == Some(sha256.as_str()) {
        return Plan::Unchanged;
    }
    Plan::Fetch {
        sha256,
        sidecar_exists: observed.file(&sidecar(&file.path)).is_some(),
    }
}

/// Puts the files whose plan is not [`Plan::Unchanged`]; returns the paths written.
pub async fn put(
    client: &RosClient,
    observed: &Observed,
    files: &[DesiredFile],
    serve_at: Option<SocketAddr>,
) -> Result<Vec<String>, String> {
    let mut server: Option<FileServer> = None;
    let mut written = Vec::new();
    for file in files {
        match plan(file, observed) {
            Plan::Unchanged => continue,
            Plan::Contents { text, exists } => client
                .write_small_file(&file.path, &text, exists)
                .await
                .map_err(|e| failed(&file.path, e))?,
            Plan::Fetch {
                sha256,
                sidecar_exists,
            } => {
                if server.is_none() {
                    let at = match serve_at {
                        Some(a) => a,
                        None => super::serve::address_towards(&client.options().base_url).await?,
                    };
                    let s = FileServer::start(at).await.map_err(|e| {
                        format!("cannot serve files on {at}: {e} (try --serve-address)")
                    })?;
                    server = Some(s);
                }
                let url = server
                    .as_ref()
                    .map(|s| s.offer(&file.path, file.contents.clone()))
                    .unwrap_or_default();
                client
                    .fetch_to_device(&url, &file.path)
                    .await
                    .map_err(|e| failed(&file.path, e))?;
                let side = sidecar(&file.path);
                client
                    .write_small_file(&side, &format!("{sha256}\n"), sidecar_exists)
                    .await
                    .map_err(|e| failed(&side, e))?;
            }
        }
        written.push(file.path.clone());
    }
    Ok(written)
}

fn failed(path: &str, e: RosError) -> String {
    format!("writing {path}: {e}")
}
