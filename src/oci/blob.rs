//! Download one blob to a file, verifying its sha256 while it streams, under an
//! optional bandwidth cap (§5.2 pull bandwidth).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::error::OciError;
use super::registry::Registry;

/// Shared bandwidth budget for one pull.
#[derive(Debug)]
pub struct Throttle {
    bytes_per_sec: Option<u64>,
    started: Instant,
    consumed: u64,
}

impl Throttle {
    pub fn new(bytes_per_sec: Option<u64>) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.filter(|b| *b > 0),
            started: Instant::now(),
            consumed: 0,
        }
    }

    async fn take(&mut self, n: u64) {
        self.consumed += n;
        if let Some(rate) = self.bytes_per_sec {
            let due = Duration::from_secs_f64(self.consumed as f64 / rate as f64);
            let elapsed = self.started.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
}

/// Stream blob `digest` into a new file at `dest`; returns its size.
pub async fn download(
    registry: &mut Registry,
    digest: &str,
    expected_size: u64,
    dest: &Path,
    throttle: &mut Throttle,
) -> Result<u64, OciError> {
    let resp = registry.get("blobs", digest, None).await?;
    // A login or error page is never a layer (images.md §2.7).
    if resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/html"))
    {
        return Err(OciError::Malformed(format!(
            "blob {digest} answered with an HTML page"
        )));
    }
    let mut file = tokio::fs::File::options()
        .write(true)
        .create_new(true)
        .open(dest)
        .await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| OciError::Registry(format!("blob {digest} download: {e}")))?;
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
        size += chunk.len() as u64;
        throttle.take(chunk.len() as u64).await;
    }
    file.flush().await?;
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if actual != digest {
        return Err(OciError::Registry(format!(
            "digest mismatch for blob {digest}"
        )));
    }
    if expected_size != 0 && expected_size != size {
        return Err(OciError::Registry(format!(
            "size mismatch for blob {digest}"
        )));
    }
    Ok(size)
}
