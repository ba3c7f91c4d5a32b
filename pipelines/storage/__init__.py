"""Object storage (`s3://`, `gs://`): data files, prefixes and globs read through a local cache,
and run folders uploaded to a bucket.

Every remote object is read from a local copy: `local_copy(url, key)` downloads a file, a prefix
(a "folder") or a glob into `<cache>/objects/<scheme>/<bucket>/<key>` and hands back the local
path, downloading again only the objects whose ETag, size or modification time changed since the
last copy (fsspec's `info`). `<cache>` is `$STRATA_CACHE_DIR`, else `~/.cache/strata`. A run folder
bound for a bucket is written in `<cache>/staging/<scheme>/<bucket>/<prefix>` and uploaded when the
run ends (`staging_dir`, `upload_tree`).

fsspec opens the buckets: s3fs for `s3://`, gcsfs for `gs://` (`pip install "strata[cloud]"`).
Credentials and endpoints are theirs: the standard AWS variables (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, `AWS_DEFAULT_REGION`, and `AWS_ENDPOINT_URL` /
`AWS_ENDPOINT_URL_S3` for an S3-compatible server, which botocore reads itself), and Google's
application default credentials. A missing bucket, object or prefix, denied access or an
unreachable endpoint is a `DataError` of one line naming the config key.

Nothing here imports TensorFlow: a bad URL is reported before it loads.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from strata.errors import DataError
from strata.storage.filesystems import GLOB_CHARS, Remote, filesystem, holds, parse, translated_errors

log = logging.getLogger(__name__)

SCHEMES = ("s3", "gs", "gcs")
SKIPPED_UPLOADS = {".lock"}  # the training process's lock file stays behind


def is_remote(path: object) -> bool:
    """True for an `s3://`, `gs://` or `gcs://` URL."""
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def cache_root() -> Path:
    """`$STRATA_CACHE_DIR`, else `$XDG_CACHE_HOME/strata` (`~/.cache/strata`)."""
    configured = os.environ.get("STRATA_CACHE_DIR")
    if configured:
        return Path(configured).expanduser().absolute()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser().absolute() / "strata"


def objects_root() -> Path:
    """Where downloaded objects are kept: `<cache>/objects/<scheme>/<bucket>/<key>`."""
    return cache_root() / "objects"


def staging_root() -> Path:
    """Where run folders bound for a bucket are written before their upload."""
    return cache_root() / "staging"


def staging_dir(path: str) -> str:
    """`paths.output_dir` as a local folder: a remote URL's staging folder
    `<cache>/staging/<scheme>/<bucket>/<prefix>`, a local path unchanged."""
    if not is_remote(path):
        return path
    return str(_mirror(staging_root(), parse(path, "paths.output_dir"), "paths.output_dir"))


def remote_location(output_dir: str, run_dir: str | os.PathLike) -> str:
    """Where a run folder written in `staging_dir(output_dir)` goes in the bucket: the same path
    below `output_dir` (a run folder placed elsewhere by `hydra.run.dir` goes to `output_dir/<its name>`)."""
    staged, run = Path(staging_dir(output_dir)), Path(run_dir).absolute()
    try:
        relative = run.relative_to(staged).as_posix()
    except ValueError:
        relative = run.name
    return f"{output_dir.rstrip('/')}/{relative}" if relative not in ("", ".") else output_dir.rstrip("/")


def check_url(url: str, key: str, output: bool = False) -> None:
    """Checks, before any work (and before TensorFlow loads), that `url`'s file system is installed
    and that what it names is there: the objects of a data path, or the bucket of an `output`
    folder (a bucket that refuses to be listed passes there: writing may still be allowed)."""
    remote = parse(url, key)
    fs = filesystem(remote, key)
    try:
        with translated_errors(fs, remote, key):
            if output:
                fs.info(remote.bucket)
            else:
                _listed(fs, remote, key)
    except DataError as ex:
        if not (output and "access denied" in str(ex)):
            raise


def local_copy(url: str, key: str = "data.path", prune: bool = True) -> Path:
    """The local copy of the object, prefix or glob `url`, downloaded into the cache as needed.

    Returns the local file (an object), folder (a prefix) or glob pattern (a glob, whose local
    matches are exactly the remote ones). Objects whose ETag, size and modification time are those
    of the last copy are not downloaded again. With `prune`, local files below a prefix or matching
    a glob that the bucket no longer holds are removed, so the copy is the bucket's current content;
    without it (a run folder, which the run commands write into) they stay.

    Raises `DataError` naming `key` for a missing bucket, object or prefix, denied access, missing
    credentials or an unreachable endpoint.
    """
    remote = parse(url, key)
    fs = filesystem(remote, key)
    target = _mirror(objects_root(), remote, key)
    with translated_errors(fs, remote, key):
        kind, objects = _listed(fs, remote, key)
        if kind == "prefix":
            target.mkdir(parents=True, exist_ok=True)
        locals_ = {name: _mirror(objects_root(), remote.with_path(name), key) for name in objects}
        _download(fs, objects, locals_, url)
    if prune and kind != "object":
        _prune(target, kind, set(locals_.values()))
    return target


def _listed(fs, remote: Remote, key: str) -> tuple[str, dict[str, dict]]:
    """What `remote` names, `object`, `prefix` or `glob`, and its objects with their `info`."""
    if GLOB_CHARS & set(remote.path):
        found = fs.glob(remote.fs_path, detail=True)
        objects = {name: info for name, info in found.items() if _is_object(info, name)}
        if not objects:
            raise DataError(f"{key}={remote.url}: no object matches the pattern{holds(fs, remote)}")
        return "glob", objects
    info = fs.info(remote.fs_path)
    if info.get("type") != "directory":
        return "object", {remote.fs_path: info}
    found = fs.find(remote.fs_path, detail=True)
    objects = {name: entry for name, entry in found.items() if _is_object(entry, name)}
    if not objects:
        raise DataError(f"{key}={remote.url}: the prefix holds no objects.")
    return "prefix", objects


def upload_tree(local_dir: str | os.PathLike, url: str, key: str = "paths.output_dir") -> int:
    """Uploads every file below `local_dir` to the prefix `url` (the run's `.lock` stays behind);
    returns the number of files. Errors are `DataError`s naming `key`."""
    root = Path(local_dir)
    remote = parse(url, key)
    fs = filesystem(remote, key)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIPPED_UPLOADS)
    targets = [f"{remote.fs_path.rstrip('/')}/{p.relative_to(root).as_posix()}" for p in files]
    with translated_errors(fs, remote, key):
        if files:
            fs.put([str(p) for p in files], targets)
        fs.invalidate_cache()
    return len(files)


# ----------------------------------------------------------------------------- the cache


def _mirror(base: Path, remote: Remote, key: str) -> Path:
    """`base/<scheme>/<bucket>/<path>`, refusing object keys that would leave it (`..`)."""
    parts = [p for p in remote.path.split("/") if p]
    if any(p in ("..", ".") for p in parts):
        raise DataError(f"{key}={remote.url}: object keys with '.' or '..' segments are not supported.")
    return base.joinpath(remote.scheme, remote.bucket, *parts)


def _meta_path(local: Path) -> Path:
    """The record of what a cached object was downloaded from: `<cache>/objects/.meta/...json`."""
    relative = local.relative_to(objects_root())
    return objects_root() / ".meta" / relative.parent / f"{relative.name}.json"


def _is_object(info: dict, name: str) -> bool:
    return info.get("type") == "file" and not name.endswith("/")


def signature(info: dict) -> dict:
    """What says that an object changed: its ETag (S3) or hash/generation (GCS), its size and its
    modification time, as fsspec's `info` gives them."""
    tag = next((info[k] for k in ("ETag", "etag", "md5Hash", "generation", "crc32c") if info.get(k)), None)
    mtime = next((info[k] for k in ("LastModified", "mtime", "updated", "created") if info.get(k)), None)
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return {"etag": None if tag is None else str(tag), "size": int(info.get("size") or 0),
            "mtime": mtime if isinstance(mtime, (int, float)) or mtime is None else str(mtime)}


def _fresh(local: Path, wanted: dict) -> bool:
    """True when `local` is the copy of the object `wanted` describes."""
    meta = _meta_path(local)
    if not local.is_file() or not meta.is_file():
        return False
    try:
        recorded = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return recorded == wanted and local.stat().st_size == wanted["size"]


def _download(fs, objects: dict[str, dict], locals_: dict[str, Path], url: str) -> None:
    """Downloads the objects whose local copies are missing or stale, each to a temporary file
    renamed into place (a concurrent reader sees the old copy or the new, never half of one)."""
    wanted = {name: signature(info) for name, info in objects.items()}
    stale = [name for name in objects if not _fresh(locals_[name], wanted[name])]
    if not stale:
        log.info("%s: %d object(s) unchanged in the cache %s", url, len(objects), objects_root())
        return
    temporaries = []
    for name in stale:
        local = locals_[name]
        local.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".tmp", dir=local.parent)
        os.close(handle)
        temporaries.append(tmp)
    try:
        fs.get(stale, temporaries)
        for name, tmp in zip(stale, temporaries):
            local = locals_[name]
            if local.is_dir():  # an object and a prefix of the same name: the prefix's folder wins
                raise DataError(f"{url}: the object {name} is also a prefix; rename one of them.")
            os.replace(tmp, local)
            meta = _meta_path(local)
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps(wanted[name]))
    finally:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
    size = sum(wanted[name]["size"] for name in stale)
    log.info("%s: downloaded %d of %d object(s) (%s) to %s", url, len(stale), len(objects), _size(size), objects_root())


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _prune(target: Path, kind: str, keep: set[Path]) -> None:
    """Removes the local files of a prefix's or a glob's copy that the bucket no longer holds."""
    if kind == "prefix":
        candidates = [p for p in target.rglob("*") if p.is_file()]
    else:
        candidates = [Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).is_file()]
    for path in candidates:
        if path not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)
            _meta_path(path).unlink(missing_ok=True)
    if kind == "prefix":
        for folder in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "is_remote",
    "local_copy",
    "upload_tree",
    "staging_dir",
    "remote_location",
    "check_url",
    "cache_root",
    "objects_root",
    "staging_root",
    "signature",
]
