#!/usr/bin/env python3
"""Writes an OCI image archive from root-filesystem folders, without a registry or Docker.

    oci.py --out OUT.tar --ref localhost/slipway/pause:1 [--ref …] \
           --layer ROOTFS [--layer APPDIR …] \
           [--cmd '["/bin/sh"]'] [--entrypoint '[…]'] [--env K=V …] [--workdir /app] [--user 1000:1000] \
           [--label K=V …] [--blob-cache DIR]

Each --layer folder becomes one gzip layer, in order (later layers win); with
--blob-cache, compressed layers are kept there by diff id and reused. The
archive is what `ctr images import` reads: an `oci-layout`, an `index.json`
whose manifests carry the `io.containerd.image.name` annotation (one per
--ref), and content-addressed blobs. The output is deterministic (sorted
entries, fixed mtimes and owners, gzip without a timestamp), so the same
inputs give the same digest and the digest can serve as a cache key.

Prints the manifest digest on stdout.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile

EPOCH = 0  # every mtime in the image; reproducible builds need a fixed one


def layer_tar(root):
    """An uncompressed tar of `root`'s contents, deterministic, owned by root."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        entries = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                entries.append(os.path.join(dirpath, name))
        for path in sorted(entries, key=lambda p: os.path.relpath(p, root)):
            rel = os.path.relpath(path, root)
            info = tar.gettarinfo(path, arcname=rel)
            info.mtime = EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.pax_headers = {}
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            elif info.isdir() or info.issym() or info.islnk():
                tar.addfile(info)
            elif stat.S_ISCHR(os.lstat(path).st_mode) or stat.S_ISBLK(os.lstat(path).st_mode):
                # device nodes are the runtime's business (it mounts /dev)
                continue
            else:
                tar.addfile(info)
    return buf.getvalue()


def compress(raw, diff_id, cache):
    """The gzip layer for `raw`, kept in `cache` by diff id: a base layer shared by
    several images is compressed once (gzip is the slow part), and the result is the
    same bytes either way."""
    path = os.path.join(cache, diff_id.split(":", 1)[1] + ".tar.gz") if cache else None
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
        if hashlib.sha256(gzip.decompress(data)).hexdigest() == diff_id.split(":", 1)[1]:
            return data
    data = gzip.compress(raw, compresslevel=6, mtime=EPOCH)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    return data


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref", action="append", required=True, help="image name, e.g. localhost/slipway/pause:1")
    ap.add_argument("--layer", action="append", required=True, help="a folder that becomes one layer")
    ap.add_argument("--cmd", default=None, help="JSON list")
    ap.add_argument("--entrypoint", default=None, help="JSON list")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--user", default=None)
    ap.add_argument("--label", action="append", default=[], help="K=V image label")
    ap.add_argument("--blob-cache", default=None, help="folder keeping compressed layers by their diff id")
    args = ap.parse_args()

    blobs = {}

    def add_blob(data):
        digest = sha256(data)
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    layers, diff_ids = [], []
    for folder in args.layer:
        if not os.path.isdir(folder):
            sys.exit(f"oci.py: --layer {folder} is not a folder")
        raw = layer_tar(folder)
        diff_ids.append(sha256(raw))
        compressed = compress(raw, diff_ids[-1], args.blob_cache)
        desc = add_blob(compressed)
        desc["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        layers.append(desc)

    env = list(args.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    config = {"Env": env}
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.entrypoint:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.workdir:
        config["WorkingDir"] = args.workdir
    if args.user:
        config["User"] = args.user
    if args.label:
        config["Labels"] = dict(label.split("=", 1) for label in args.label)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "e2e/images/lib/oci.py"} for _ in layers],
    }
    config_desc = add_blob(json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode())
    config_desc["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layers,
    }
    manifest_desc = add_blob(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    manifest_desc["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            dict(manifest_desc, annotations={"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]})
            for ref in args.ref
        ],
    }

    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as out:

        def put(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = EPOCH
            info.mode = 0o644
            out.addfile(info, io.BytesIO(data))

        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index, sort_keys=True, separators=(",", ":")).encode())
        for digest in sorted(blobs):
            put("blobs/sha256/" + digest.split(":", 1)[1], blobs[digest])
    os.replace(tmp, args.out)
    print(manifest_desc["digest"])


if __name__ == "__main__":
    main()
