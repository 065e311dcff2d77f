//! Blob uploads (spec images.md §2.3): monolithic (`POST …?digest=`), chunked (`POST`, then
//! `PATCH`… and a closing `PUT …?digest=`), cross-repository mounts (`POST …?mount=`), status
//! and cancel. Bodies stream to disk while hashed; nothing half-received is kept.

use std::collections::HashMap;
use std::path::Path;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use sha2::Digest as _;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::reply::{CONTENT_DIGEST, Reply, UPLOAD_UUID};
use crate::registry::error::{OciError, digest_invalid, upload_unknown};
use crate::registry::names::Digest;
use crate::registry::state::Registry;
use crate::registry::store::blocking;
use crate::registry::uploads::{Session, SessionState, rehash};

fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn session_response(status: StatusCode, name: &str, id: &uuid::Uuid, size: u64) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")))
        .insert_header((UPLOAD_UUID, id.to_string()))
        .insert_header((header::RANGE, range_header(size)))
        .insert_header((header::CONTENT_LENGTH, "0"))
        .finish()
}

fn blob_created(name: &str, d: &Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/{d}")))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .insert_header((header::CONTENT_LENGTH, "0"))
        .finish()
}

/// Streams the request body onto `file`, hashing and touching as bytes arrive.
async fn pump(
    payload: &mut web::Payload,
    file: &mut tokio::fs::File,
    hasher: &mut sha2::Sha256,
    touch: &dyn Fn(),
) -> Result<u64, String> {
    let mut n = 0u64;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| format!("reading body: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing: {e}"))?;
        hasher.update(&chunk);
        n += chunk.len() as u64;
        touch();
    }
    file.flush().await.map_err(|e| format!("writing: {e}"))?;
    Ok(n)
}

pub async fn start_upload(
    reg: &Registry,
    mut payload: web::Payload,
    name: &str,
    q: &HashMap<String, String>,
) -> Reply {
    if let Some(m) = q.get("mount") {
        if let Some(d) = Digest::parse(m)
            && reg.store.blob_size(&d).is_some()
        {
            return Ok(blob_created(name, &d));
        }
    } else if let Some(ds) = q.get("digest") {
        // Single-POST monolithic upload: verify and commit in one step.
        let want = Digest::parse(ds).ok_or_else(|| digest_invalid("invalid digest"))?;
        let tmp = reg.store.tmp_path();
        let mut f = tokio::fs::File::create(&tmp).await?;
        let mut h = sha2::Sha256::new();
        let res = pump(&mut payload, &mut f, &mut h, &|| {}).await;
        if let Err(e) = res {
            drop(f);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(OciError::new(400, "BLOB_UPLOAD_INVALID", e));
        }
        if Digest::from_hasher(h) != want {
            drop(f);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(digest_invalid(
                "provided digest did not match uploaded content",
            ));
        }
        f.sync_all().await?;
        drop(f);
        reg.store.commit_blob(&tmp, &want).await?;
        return Ok(blob_created(name, &want));
    }
    let s = reg.uploads.create(&reg.store, name).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, &s.id, 0))
}

/// `Content-Range: [bytes ]<start>-<end>[/<total>]` → start.
fn content_range_start(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes ")
        .or_else(|| v.strip_prefix("bytes="))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, _) = v.split_once('-')?;
    a.trim().parse().ok()
}

/// Appends the request body to a locked session. On a broken body the data file is
/// truncated back and the hash restored, so nothing half-received stays.
async fn append(
    reg: &Registry,
    s: &Session,
    st: &mut SessionState,
    payload: &mut web::Payload,
) -> Result<(), OciError> {
    let path = reg.uploads.data_path(&s.id);
    if st.hasher.is_none() {
        st.hasher = Some(rehash(path.clone(), st.size).await?);
    }
    let before = st.size;
    let mut h = st.hasher.clone().unwrap_or_default();
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await?;
    f.set_len(before).await?;
    f.seek(std::io::SeekFrom::Start(before)).await?;
    match pump(payload, &mut f, &mut h, &|| reg.uploads.touch(s)).await {
        Ok(n) => {
            st.size = before + n;
            st.hasher = Some(h);
            if n > 0 {
                reg.uploads.write_meta(&reg.store, s, st.size).await?;
            }
            Ok(())
        }
        Err(e) => {
            let _ = f.set_len(before).await;
            tracing::warn!(upload = %s.id, error = %e, "upload body broken; chunk discarded");
            Err(OciError::new(400, "BLOB_UPLOAD_INVALID", e))
        }
    }
}

pub async fn patch_upload(
    reg: &Registry,
    req: &HttpRequest,
    mut payload: web::Payload,
    name: &str,
    id: &uuid::Uuid,
) -> Reply {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    if let Some(cr) = req.headers().get(header::CONTENT_RANGE) {
        let start = cr.to_str().ok().and_then(content_range_start);
        if start != Some(st.size) {
            return Err(OciError::new(
                416,
                "BLOB_UPLOAD_INVALID",
                "content range does not start at the current offset",
            )
            .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Range", range_header(st.size))
            .header("Docker-Upload-UUID", id.to_string()));
        }
    }
    append(reg, &s, &mut st, &mut payload).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, id, st.size))
}

pub async fn put_upload(
    reg: &Registry,
    mut payload: web::Payload,
    name: &str,
    id: &uuid::Uuid,
    q: &HashMap<String, String>,
) -> Reply {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    let want = q
        .get("digest")
        .and_then(|d| Digest::parse(d))
        .ok_or_else(|| digest_invalid("digest parameter missing or invalid"))?;
    append(reg, &s, &mut st, &mut payload).await?;
    let got = st.hasher.clone().map(Digest::from_hasher);
    if got.as_ref() != Some(&want) {
        st.closed = true;
        reg.uploads.remove(id);
        return Err(digest_invalid(
            "provided digest did not match uploaded content",
        ));
    }
    let path = reg.uploads.data_path(id);
    let p2 = path.clone();
    blocking(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p2)?
            .sync_all()
    })
    .await?;
    reg.store.commit_blob(Path::new(&path), &want).await?;
    st.closed = true;
    reg.uploads.remove(id);
    Ok(blob_created(name, &want))
}

pub async fn upload_status(reg: &Registry, name: &str, id: &uuid::Uuid) -> Reply {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    Ok(session_response(StatusCode::NO_CONTENT, name, id, st.size))
}

pub async fn cancel_upload(reg: &Registry, name: &str, id: &uuid::Uuid) -> Reply {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    st.closed = true;
    reg.uploads.remove(id);
    Ok(HttpResponse::NoContent().finish())
}
