//! The smallest docker-save tarball the RouterOS simulator imports, shared by the benches.

use std::path::Path;

/// A one-layer docker-save archive at `path`.
pub fn tiny_image(path: &Path) {
    let mut layer = tar::Builder::new(Vec::new());
    let body = b"hello from the bench\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    layer
        .append_data(&mut header, "hello.txt", &body[..])
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let mut archive = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        archive.append_data(&mut h, name, data).unwrap();
    };
    add(
        "manifest.json",
        br#"[{"Config":"c.json","RepoTags":["bench:1"],"Layers":["l1/layer.tar"]}]"#,
    );
    add("c.json", b"{}");
    add("l1/layer.tar", &layer);
    archive.finish().unwrap();
}
