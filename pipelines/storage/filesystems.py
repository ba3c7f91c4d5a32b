"""URLs of object storage, the fsspec file systems that open them, and their errors as one line
that names the config key (`strata.errors.DataError`)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from strata.errors import DataError, suggestion

GLOB_CHARS = set("*?[")
# the fsspec implementation of each scheme, and the package that brings it (the `cloud` extra)
PACKAGES = {"s3": "s3fs", "gs": "gcsfs"}
ALIASES = {"gcs": "gs"}
QUIET_LOGGERS = ("botocore", "aiobotocore", "s3fs", "gcsfs", "google")
SHOWN_NAMES = 10  # names listed in a "no such object" message
# exception class names (botocore, aiohttp, google-auth) that mean no credentials, or no server
CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError", "RefreshError"}
UNREACHABLE = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
               "ClientConnectorError", "ServerDisconnectedError", "ClientOSError", "ProxyConnectionError"}
STORAGE_ERRORS = {"BotoCoreError", "ClientError", "HttpError", "GoogleAuthError"}


@dataclass(frozen=True)
class Remote:
    """An object storage URL taken apart: `s3://bucket/some/key` -> s3, bucket, some/key."""

    url: str  # as the config gave it
    scheme: str  # s3 or gs
    bucket: str
    path: str  # the key or prefix inside the bucket, without a leading or trailing '/'

    @property
    def fs_path(self) -> str:
        """The path fsspec's file systems take: `bucket/key`."""
        return f"{self.bucket}/{self.path}" if self.path else self.bucket

    def with_path(self, fs_path: str) -> Remote:
        """The object `bucket/key` (an fsspec path) of the same bucket."""
        path = fs_path.split("/", 1)[1] if "/" in fs_path else ""
        return Remote(self.url_of(fs_path), self.scheme, self.bucket, path.strip("/"))

    def url_of(self, fs_path: str) -> str:
        return f"{self.scheme}://{fs_path.strip('/')}"


def parse(url: str, key: str) -> Remote:
    """`url` taken apart, or a `DataError` naming `key` when it names no bucket."""
    scheme, _, rest = str(url).partition("://")
    scheme = ALIASES.get(scheme.lower(), scheme.lower())
    bucket, _, path = rest.partition("/")
    if scheme not in PACKAGES or not bucket:
        raise DataError(f"{key}={url}: expected s3://<bucket>/<key> or gs://<bucket>/<key>.")
    return Remote(str(url), scheme, bucket, path.strip("/"))


def filesystem(remote: Remote, key: str):
    """The fsspec file system of `remote`'s scheme; a `DataError` saying which extra to install
    when its package is missing. A new instance each time: no listing is remembered between calls."""
    package = PACKAGES[remote.scheme]
    hint = (f"{key}={remote.url}: {remote.scheme}:// URLs need {package}, which is not installed; "
            f"install it with: pip install 'strata[cloud]'")
    try:
        import fsspec
    except ImportError:
        raise DataError(hint) from None
    for name in QUIET_LOGGERS:  # botocore says at INFO where it found the credentials, on every client
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    try:
        return fsspec.filesystem(remote.scheme, skip_instance_cache=True)
    except ImportError:
        raise DataError(hint) from None


def endpoint(fs, remote: Remote) -> str:
    """The server a request went to, for messages."""
    if remote.scheme == "s3":
        configured = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        configured = configured or (getattr(fs, "client_kwargs", None) or {}).get("endpoint_url")
        return configured or "AWS S3"
    return "Google Cloud Storage"


def credentials_hint(remote: Remote) -> str:
    if remote.scheme == "s3":
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
    return "GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login"


@contextlib.contextmanager
def translated_errors(fs, remote: Remote, key: str) -> Iterator[None]:
    """Turns the storage errors raised inside into one-line `DataError`s naming `key` and the URL."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError as ex:
        raise DataError(f"{key}={remote.url}: {missing(fs, remote, ex)}") from None
    except PermissionError as ex:
        raise DataError(f"{key}={remote.url}: access denied ({first_line(ex)}); check the credentials "
                        f"({credentials_hint(remote)}) and the bucket's permissions.") from None
    except Exception as ex:
        names = {cls.__name__ for cls in type(ex).__mro__}
        if names & CREDENTIALS:
            raise DataError(f"{key}={remote.url}: no credentials for {endpoint(fs, remote)} ({first_line(ex)}); "
                            f"set {credentials_hint(remote)}.") from None
        if names & UNREACHABLE or isinstance(ex, (ConnectionError, TimeoutError)):
            raise DataError(f"{key}={remote.url}: cannot reach the object store at {endpoint(fs, remote)} "
                            f"({first_line(ex)}); check AWS_ENDPOINT_URL and the network.") from None
        if isinstance(ex, OSError) or names & STORAGE_ERRORS:
            raise DataError(f"{key}={remote.url}: {type(ex).__name__}: {first_line(ex)}") from None
        raise


def missing(fs, remote: Remote, ex: BaseException) -> str:
    """Why `remote` was not found: no bucket, or no such object (with the names its prefix holds
    and the closest one)."""
    if not _bucket_exists(fs, remote.bucket):
        return f"no such bucket '{remote.bucket}' at {endpoint(fs, remote)}."
    return f"no such object or prefix{holds(fs, remote)}"


def holds(fs, remote: Remote) -> str:
    """' (s3://b/dir/ holds: a.csv, b/). Did you mean ...?' from the listing of the folder that
    `remote` is in (up to a glob's first wildcard), or of the bucket when that folder is empty."""
    path = remote.path
    wildcard = min((path.index(c) for c in GLOB_CHARS if c in path), default=None)
    stem = path[:wildcard] if wildcard is not None else path
    folder = stem.rsplit("/", 1)[0] if "/" in stem else ""
    name = path[len(folder):].lstrip("/")
    names = _names(fs, f"{remote.bucket}/{folder}" if folder else remote.bucket)
    where = remote.url_of(f"{remote.bucket}/{folder}") + "/"
    if not names and folder:
        top = _names(fs, remote.bucket)
        shown = ", ".join(top[:SHOWN_NAMES]) + (", ..." if len(top) > SHOWN_NAMES else "")
        return f" (nothing below {where}; {remote.scheme}://{remote.bucket}/ holds: {shown or 'nothing'})."
    shown = ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")
    hint = suggestion(name.split("/", 1)[0], [n.rstrip("/") for n in names]) if wildcard is None else ""
    hint = hint.replace("Did you mean '", f"Did you mean '{where}")
    return f" ({where} holds: {shown or 'nothing'}).{hint}"


def _names(fs, fs_path: str) -> list[str]:
    """The names directly below `fs_path` (folders with a trailing '/'), [] when it cannot be listed."""
    try:
        entries = fs.ls(fs_path, detail=True)
    except Exception:  # only a hint: the caller's error is the message
        return []
    names = []
    for entry in entries:
        base = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        names.append(base + "/" if entry.get("type") == "directory" else base)
    return sorted(names)


def _bucket_exists(fs, bucket: str) -> bool:
    try:
        fs.info(bucket)
    except FileNotFoundError:
        return False
    except Exception:  # denied or unreachable: the object is what is missing
        return True
    return True


def first_line(ex: BaseException) -> str:
    text = str(ex).strip()
    return text.splitlines()[0] if text else type(ex).__name__
