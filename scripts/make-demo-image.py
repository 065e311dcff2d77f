#!/usr/bin/env python3
"""Writes a tiny linux/arm64 OCI image layout for the demo (no Docker needed).

Usage: make-demo-image.py DIR TAG [MESSAGE]

The image has one gzip layer with /hello/index.html and /etc/hostname-note, and a run
config; `skopeo copy oci:DIR:TAG docker://127.0.0.1:5000/hello:TAG` pushes it. The RouterOS
simulator extracts it like a real device; it does not execute it.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(root, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def layer(message):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in [
            ("hello/index.html", "<h1>%s</h1>\n" % message),
            ("etc/hostname-note", "served by a container mkube created\n"),
        ]:
            data = body.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    # mtime=0: the same message always gives the same digest.
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    root, tag = sys.argv[1], sys.argv[2]
    message = sys.argv[3] if len(sys.argv) > 3 else "hello from mkube"
    os.makedirs(root, exist_ok=True)
    tar_bytes, gz = layer(message)
    layer_digest, layer_size = blob(root, gz)
    config = {
        "architecture": "arm64",
        "os": "linux",
        "config": {"Cmd": ["/bin/httpd", "-f", "-h", "/hello"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
    }
    config_digest, config_size = blob(root, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    }
    manifest_digest, manifest_size = blob(root, json.dumps(manifest, sort_keys=True).encode())
    index_path = os.path.join(root, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"] = [
        m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
    ] + [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }]
    with open(index_path, "w") as f:
        json.dump(index, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(manifest_digest)


if __name__ == "__main__":
    main()
