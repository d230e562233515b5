"""Inputs named by fsspec URLs (file://, http(s)://, s3://, ...), read where the task runs.

`aggregate`'s workers read their inputs themselves; an input on a web server or
in an object store is named by its URL and each worker fetches what it needs
through fsspec (part of the `trackheat[dask]` extra; a protocol such as s3
needs its own package, s3fs, on the workers).

- Parquet is read in place: pyarrow reads the footer and the columns it needs
  through fsspec's file object (HTTP range requests), never the whole file.
- SQLite cannot read through fsspec: a store is copied to a private temporary
  file (a 0700 folder, the file 0600, nothing followed through a symlink) no
  larger than FETCH_LIMIT and not larger than the free space leaves, opened
  read-only, and removed when the task is done, failed or not.

Every failure is one line naming the URL: an unknown protocol, a missing file,
a folder or a device (file:///dev/zero would never end), a server that does
not answer (HTTP: 30 s to connect, 60 s of silence while reading), a file too
large.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from trackheat.errors import UserError

FETCH_LIMIT = 8 * 2**30  # bytes: the largest remote store copied to a worker's disk
FREE_MARGIN = 512 * 2**20  # bytes the copy leaves free on the worker's temporary disk
CHUNK = 2**20
CONNECT_TIMEOUT = 30.0  # seconds (HTTP)
READ_TIMEOUT = 60.0  # seconds of silence while reading (HTTP)
MISSING = "inputs named by URL need fsspec, part of the optional extra: pip install 'trackheat[dask]'"


def is_url(name: str | os.PathLike) -> bool:
    """A URL (`proto://...`), as opposed to a path on this machine."""
    text = str(name)
    head, sep, _ = text.partition("://")
    return bool(sep) and head.replace("+", "").replace("-", "").replace(".", "").isalnum() and "/" not in head


def _fsspec():
    try:
        import fsspec
    except ImportError:
        raise UserError(MISSING) from None
    return fsspec


def check_protocol(url: str) -> str | None:
    """None when fsspec knows the URL's protocol, else the one-line reason (run where the command runs:
    a typo fails before any cluster starts; whether a worker has the protocol's package is its own matter)."""
    fsspec = _fsspec()
    proto = url.partition("://")[0].lower()
    if proto not in fsspec.available_protocols():
        return f"{url}: unknown URL protocol {proto!r} (fsspec knows file, http, https, s3, gcs, ... )"
    return None


def _fs(url: str) -> tuple[Any, str]:
    """(filesystem, path inside it), with bounded waits for HTTP."""
    fsspec = _fsspec()
    proto = url.partition("://")[0].lower()
    options: dict[str, Any] = {}
    if proto in ("http", "https"):
        try:
            import aiohttp
        except ImportError:
            raise UserError(f"{url}: reading over HTTP needs aiohttp, part of the optional extra: pip install 'trackheat[dask]'") from None
        options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)}
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as e:  # the protocol's package (s3fs, gcsfs, ...) is not on this machine
        raise UserError(f"{url}: {str(e).splitlines()[0]}") from None
    except ValueError as e:
        raise UserError(f"{url}: {str(e).splitlines()[0]}") from None


def _reason(url: str, e: BaseException) -> UserError:
    if isinstance(e, UserError):
        return e
    cause = e.__cause__ or e.__context__
    if isinstance(e, FileNotFoundError) and isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
        # fsspec's http says "not found" of a server that did not answer: say what happened
        inner = cause.__cause__ or cause.__context__ or cause
        text = (getattr(inner, "strerror", None) or str(inner) or type(inner).__name__).splitlines()[0]
        return UserError(f"{url}: cannot read ({text})")
    if isinstance(e, FileNotFoundError):
        return UserError(f"{url}: no such file")
    if isinstance(e, PermissionError):
        return UserError(f"{url}: permission denied")
    text = (getattr(e, "strerror", None) or str(e) or type(e).__name__).splitlines()[0]
    return UserError(f"{url}: cannot read ({text})")


def head(url: str, n: int = 16) -> bytes:
    """The first `n` bytes (to tell a store from a Parquet file)."""
    fs, path = _fs(url)
    try:
        with fs.open(path, "rb", block_size=0 if _is_http(fs) else None) as fh:
            return fh.read(n)
    except Exception as e:
        raise _reason(url, e) from None


def _is_http(fs: Any) -> bool:
    return "http" in (fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,))


@contextlib.contextmanager
def opened(url: str) -> Iterator[IO[bytes]]:
    """A seekable binary file object on the URL (pyarrow reads Parquet from it with range requests)."""
    fs, path = _fs(url)
    try:
        fh = fs.open(path, "rb")
    except Exception as e:
        raise _reason(url, e) from None
    try:
        yield fh
    finally:
        fh.close()


@contextlib.contextmanager
def local_copy(url: str, limit: int = FETCH_LIMIT) -> Iterator[Path]:
    """The URL's file copied to a private temporary file, removed afterwards whatever happens."""
    fs, path = _fs(url)
    try:
        info = fs.info(path)
    except Exception as e:
        raise _reason(url, e) from None
    kind = info.get("type")
    if kind not in (None, "file"):  # a folder, or a device such as file:///dev/zero, which never ends
        raise UserError(f"{url}: not a file ({kind})")
    size = info.get("size")
    folder = Path(tempfile.mkdtemp(prefix="trackheat-fetch-"))  # 0700, made by mkdtemp
    try:
        free = shutil.disk_usage(folder).free
        if size is not None:
            if size > limit:
                raise UserError(f"{url}: {size:,} bytes, more than the {limit:,} a remote store may have (copy it to the workers)")
            if size > free - FREE_MARGIN:
                raise UserError(f"{url}: {size:,} bytes, and {folder.parent} has {free:,} free on this worker")
        local = folder / "store.db"
        fd = os.open(local, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as out:
            try:
                with fs.open(path, "rb", block_size=0 if _is_http(fs) else None) as src:
                    copied = 0
                    while True:
                        chunk = src.read(CHUNK)
                        if not chunk:
                            break
                        copied += len(chunk)
                        if copied > limit:  # the server said less, or nothing
                            raise UserError(f"{url}: more than the {limit:,} bytes a remote store may have (copy it to the workers)")
                        if copied > free - FREE_MARGIN:
                            raise UserError(f"{url}: more than the {free:,} bytes {folder.parent} has free on this worker")
                        out.write(chunk)
            except UserError:
                raise
            except Exception as e:
                raise _reason(url, e) from None
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)
