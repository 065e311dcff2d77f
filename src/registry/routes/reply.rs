//! What every route answers with: the result type, the registry's own headers and the
//! bodiless answer to a `HEAD`.

use actix_web::HttpResponse;
use actix_web::body::SizedStream;

use crate::registry::error::OciError;

pub type Reply = Result<HttpResponse, OciError>;

pub const CONTENT_DIGEST: &str = "Docker-Content-Digest";
pub const UPLOAD_UUID: &str = "Docker-Upload-UUID";

/// A body announcing `len` bytes without sending any (the answer to a `HEAD`).
pub fn head_body(
    len: u64,
) -> SizedStream<futures::stream::Empty<Result<bytes::Bytes, std::io::Error>>> {
    SizedStream::new(len, futures::stream::empty())
}
