//! The body of `POST /api/v1/update-container` (images.md §4.6), shared by mkube's update API
//! and mkube-update's own endpoint: `{"name": "<container>", "tag": "<image ref>"}`, both
//! required. Extensions: `"file"` (a device path of a docker-save tarball, §5.5) instead of
//! `"tag"`, and `"rollback"` (the reference to go back to when the new image fails).

use super::mark::Source;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    pub name: String,
    pub image: Source,
    pub rollback: Option<Source>,
}

#[derive(Deserialize)]
struct Body {
    name: Option<String>,
    tag: Option<String>,
    file: Option<String>,
    rollback: Option<String>,
}

/// Parses a request body; the error text says what is wrong.
pub fn parse(body: &[u8]) -> Result<UpdateRequest, String> {
    let b: Body = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let name = text(b.name).ok_or("\"name\" is required")?;
    if name.len() > 255 || name.chars().any(|c| c.is_control()) {
        return Err("\"name\" is not a container name".into());
    }
    let image = match (text(b.tag), text(b.file)) {
        (Some(tag), None) => {
            crate::oci::reference::parse(&tag, "")
                .map_err(|_| format!("\"tag\" {tag:?} is not an image reference"))?;
            Source::Remote(tag)
        }
        (None, Some(file)) => {
            if file.split('/').any(|c| c == "..") {
                return Err(format!("\"file\" {file:?} leaves the disk"));
            }
            Source::File(crate::routeros::normalize_path(&file).to_string())
        }
        (None, None) => return Err("\"tag\" is required".into()),
        (Some(_), Some(_)) => return Err("give \"tag\" or \"file\", not both".into()),
    };
    let rollback = match text(b.rollback) {
        Some(r) if r.starts_with("file=") => Some(Source::File(r["file=".len()..].to_string())),
        Some(r) => Some(Source::Remote(r)),
        None => None,
    };
    Ok(UpdateRequest {
        name,
        image,
        rollback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let r = parse(br#"{"name":"kube.gt.lo","tag":"127.0.0.1:5000/mkube:edge"}"#).unwrap();
        assert_eq!(r.image, Source::Remote("127.0.0.1:5000/mkube:edge".into()));
        let r =
            parse(br#"{"name":"r","file":"/raid1/x.tar","rollback":"file=raid1/p.tar"}"#).unwrap();
        assert_eq!(r.image, Source::File("raid1/x.tar".into()));
        assert_eq!(r.rollback, Some(Source::File("raid1/p.tar".into())));
        for (body, want) in [
            (&b"{"[..], "invalid JSON"),
            (br#"[1]"#, "invalid JSON"),
            (br#"{"tag":"a:b"}"#, "\"name\" is required"),
            (br#"{"name":"  "}"#, "\"name\" is required"),
            (br#"{"name":"x"}"#, "\"tag\" is required"),
            (
                br#"{"name":"x","tag":"UPPER::bad"}"#,
                "not an image reference",
            ),
            (br#"{"name":"x","tag":"a:b","file":"c"}"#, "not both"),
            (br#"{"name":"x","file":"../etc"}"#, "leaves the disk"),
            (br#"{"name":7,"tag":"a"}"#, "invalid JSON"),
        ] {
            let e = parse(body).unwrap_err();
            assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(body));
        }
    }
}
