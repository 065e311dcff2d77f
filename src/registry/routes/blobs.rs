//! Blobs (spec images.md §2.3): `GET`/`HEAD /v2/<name>/blobs/<digest>`, streamed from the
//! store in 64 KiB steps, with single `Range` requests answered by 206 or 416.

use actix_web::body::SizedStream;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::reply::{CONTENT_DIGEST, Reply, head_body};
use crate::registry::error::{OciError, blob_unknown};
use crate::registry::names::Digest;
use crate::registry::state::Registry;

/// `Range: bytes=a-b | a- | -n` → inclusive (start, end); `Err(())` when unsatisfiable.
fn parse_range(v: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multi-range: serve the whole blob
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            Err(())
        } else {
            Ok((size.saturating_sub(n), size - 1))
        }
    } else {
        let s: u64 = a.parse().ok()?;
        let e: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse().ok()?
        };
        if s >= size || e < s {
            Err(())
        } else {
            Ok((s, e.min(size - 1)))
        }
    };
    Some(r)
}

fn file_stream(
    path: std::path::PathBuf,
    start: u64,
    len: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    struct St {
        file: Option<tokio::fs::File>,
        path: std::path::PathBuf,
        start: u64,
        left: u64,
    }
    futures::stream::try_unfold(
        St {
            file: None,
            path,
            start,
            left: len,
        },
        |mut st| async move {
            if st.left == 0 {
                return Ok(None);
            }
            if st.file.is_none() {
                let mut f = tokio::fs::File::open(&st.path).await?;
                f.seek(std::io::SeekFrom::Start(st.start)).await?;
                st.file = Some(f);
            }
            let want = st.left.min(64 * 1024) as usize;
            let mut buf = vec![0u8; want];
            let n = match st.file.as_mut() {
                Some(f) => f.read(&mut buf).await?,
                None => 0,
            };
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than expected",
                ));
            }
            buf.truncate(n);
            st.left -= n as u64;
            Ok(Some((bytes::Bytes::from(buf), st)))
        },
    )
}

pub async fn get_blob(reg: &Registry, req: &HttpRequest, d: &Digest, head: bool) -> Reply {
    let size = reg.store.blob_size(d).ok_or_else(blob_unknown)?;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        Some(Err(())) => {
            return Err(
                OciError::new(416, "BLOB_UNKNOWN", "requested range not satisfiable")
                    .header("Content-Range", format!("bytes */{size}")),
            );
        }
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{d}\"")));
    if status == StatusCode::PARTIAL_CONTENT {
        b.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", start, start + len - 1),
        ));
    }
    if head {
        return Ok(b.body(head_body(len)));
    }
    Ok(b.body(SizedStream::new(
        len,
        file_stream(reg.store.blob_path(d), start, len).boxed_local(),
    )))
}
