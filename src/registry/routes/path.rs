//! The `/v2` request path → [`Route`] (spec images.md §2.2): parsed from the right because
//! names contain `/`, percent-escapes decoded once, then every name, tag and digest validated
//! by [`crate::registry::names`]. A manifest route's last segment is a tag or a digest.

use crate::registry::names::{Digest, Reference, valid_name, valid_tag};

/// Why a path was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// 400 NAME_INVALID.
    Name,
    /// 400 DIGEST_INVALID.
    Digest,
    /// 400 TAG_INVALID.
    Tag,
    /// 404: no such route.
    NotFound,
}

/// A parsed `/v2` route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Pull,
    /// Test hook (only answered when enabled).
    TestPanic,
    Tags(String),
    Manifest(String, Reference),
    Blob(String, Digest),
    UploadStart(String),
    Upload(String, uuid::Uuid),
}

/// Decodes percent-escapes exactly once. `None` on a malformed escape, non-UTF-8 result,
/// or an escaped `/` (names never need escapes; an escaped separator is rejected).
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
            if v == b'/' || v == 0 {
                return None;
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a raw (still percent-encoded) request path, from the right because names
/// contain `/`. Rejects empty, `.` and `..` segments; never normalises.
pub fn parse_route(raw_path: &str) -> Result<Route, RouteError> {
    let rest = match raw_path {
        "/v2" | "/v2/" => return Ok(Route::Base),
        p => p.strip_prefix("/v2/").ok_or(RouteError::NotFound)?,
    };
    let path = percent_decode(rest).ok_or(RouteError::Name)?;
    match path.as_str() {
        "_catalog" => return Ok(Route::Catalog),
        "_pull" => return Ok(Route::Pull),
        "_test/panic" => return Ok(Route::TestPanic),
        _ => {}
    }
    let segs: Vec<&str> = path.split('/').collect();
    let n = segs.len();
    // `<name>/blobs/uploads/` keeps its trailing empty segment.
    let upload_start =
        n >= 4 && segs[n - 1].is_empty() && segs[n - 2] == "uploads" && segs[n - 3] == "blobs";
    let checked = if upload_start {
        &segs[..n - 1]
    } else {
        &segs[..]
    };
    if checked
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(RouteError::Name);
    }
    let name_of = |k: usize| -> Result<String, RouteError> {
        if k == 0 {
            return Err(RouteError::NotFound);
        }
        let name = segs[..k].join("/");
        if valid_name(&name) {
            Ok(name)
        } else {
            Err(RouteError::Name)
        }
    };
    if upload_start {
        return Ok(Route::UploadStart(name_of(n - 3)?));
    }
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Ok(Route::Tags(name_of(n - 2)?));
    }
    if n >= 4 && segs[n - 2] == "uploads" && segs[n - 3] == "blobs" {
        let name = name_of(n - 3)?;
        let id = uuid::Uuid::parse_str(segs[n - 1]).map_err(|_| RouteError::NotFound)?;
        // Only the canonical hyphenated lowercase form names a session.
        if id.hyphenated().to_string() != segs[n - 1] {
            return Err(RouteError::NotFound);
        }
        return Ok(Route::Upload(name, id));
    }
    if n >= 3 && segs[n - 2] == "blobs" {
        let name = name_of(n - 2)?;
        if segs[n - 1] == "uploads" {
            return Ok(Route::UploadStart(name));
        }
        let d = Digest::parse(segs[n - 1]).ok_or(RouteError::Digest)?;
        return Ok(Route::Blob(name, d));
    }
    if n >= 3 && segs[n - 2] == "manifests" {
        let name = name_of(n - 2)?;
        let r = segs[n - 1];
        let reference = if r.contains(':') {
            Reference::Digest(Digest::parse(r).ok_or(RouteError::Digest)?)
        } else if valid_tag(r) {
            Reference::Tag(r.to_string())
        } else {
            return Err(RouteError::Tag);
        };
        return Ok(Route::Manifest(name, reference));
    }
    Err(RouteError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn routes() {
        let d = Digest::parse(&format!("sha256:{H}")).unwrap();
        assert_eq!(parse_route("/v2/"), Ok(Route::Base));
        assert_eq!(
            parse_route(&format!("/v2/a/b/blobs/sha256:{H}")),
            Ok(Route::Blob("a/b".into(), d.clone()))
        );
        assert_eq!(
            parse_route(&format!("/v2/a/blobs/sha256%3A{H}")),
            Ok(Route::Blob("a".into(), d))
        );
        assert_eq!(
            parse_route("/v2/a/blobs/uploads/"),
            Ok(Route::UploadStart("a".into()))
        );
        assert_eq!(parse_route("/v2/a/tags/list"), Ok(Route::Tags("a".into())));
        assert_eq!(
            parse_route("/v2/a/manifests/v1"),
            Ok(Route::Manifest("a".into(), Reference::Tag("v1".into())))
        );
        assert_eq!(parse_route("/v2/../x/tags/list"), Err(RouteError::Name));
        assert_eq!(parse_route("/v2/%2e%2e/x/tags/list"), Err(RouteError::Name));
        assert_eq!(parse_route("/v2/a%2fb/tags/list"), Err(RouteError::Name));
        assert_eq!(parse_route("/v2/a//b/tags/list"), Err(RouteError::Name));
        assert_eq!(parse_route("/v2/A/b/tags/list"), Err(RouteError::Name));
        assert_eq!(
            parse_route("/v2/x/blobs/sha256:.."),
            Err(RouteError::Digest)
        );
        assert_eq!(
            parse_route("/v2/x/manifests/..:manifests"),
            Err(RouteError::Digest)
        );
        assert_eq!(parse_route("/v2/x/manifests/.x"), Err(RouteError::Tag));
        assert_eq!(parse_route("/v2/x/whatever"), Err(RouteError::NotFound));
    }
}
