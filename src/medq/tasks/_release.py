"""Release files downloaded from a URL (not the Hub), verified before they are cached.

A download goes to a temporary file beside its place in the cache; it is taken only when
it is whole — as many bytes as the server announced (a cut connection is an error), a
sha256 equal to the pinned one and to the one the user gave (``--data-sha256``), and a
file the task's reader parses — and only then is it renamed into place, with its sha256
recorded beside it (``<file>.sha256``). A cached file is read again only when it still
has the sha256 recorded at its download; one without a record (an older medq's, or put
there by hand) is downloaded anew. The sha256 is returned for the run's provenance.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from medq.tasks.base import DatasetUnavailableError, TaskDataError

T = TypeVar("T")
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 60.0
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A verified release file: where it is cached, its sha256, and what the reader made
    of it."""

    path: Path
    sha256: str
    value: T


def sha256_arg(value: str) -> str:
    """`value` as a lowercase sha256, or ValueError naming ``--data-sha256``."""
    digest = value.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"--data-sha256 must be 64 hexadecimal digits (a sha256), not "
                         f"{value!r}")
    return digest


def file_sha256(path: Path) -> str:
    """The sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(what: str, digest: str, expected: str | None, where: str,
                 then: str = "") -> None:
    """TaskDataError when `expected` is given and `digest` differs; `where` names the
    expected value's origin (``pinned``, ``--data-sha256``), `then` what was done."""
    if expected is not None and digest != expected:
        raise TaskDataError(f"{what}: sha256 {digest} differs from the {where} {expected}"
                            f"{then}")


def fetch_release(
    url: str,
    target: Path,
    *,
    read: Callable[[Path], T],
    offline: bool,
    pinned: str | None = None,
    expected: str | None = None,
) -> Fetched[T]:
    """The release file at `url`, from the cache at `target` or downloaded into it.

    Args:
        url: where the release file is.
        target: its place in the cache.
        read: the task's reader (parses the file; a TaskDataError means it is not whole).
        offline: fail at once instead of connecting (``HF_HUB_OFFLINE``).
        pinned: the sha256 medq pins for the file, if it knows one.
        expected: the sha256 the user gave (``--data-sha256``).

    Raises:
        DatasetUnavailableError: offline, unreachable, or the transfer failed or was cut
            short; nothing was cached.
        TaskDataError: the file's sha256 differs from the pinned or the given one, the
            download does not parse, or the cached file changed since its download.
    """
    record = target.with_name(target.name + ".sha256")
    recorded = _recorded(record) if target.is_file() else None
    if recorded is not None:
        digest = file_sha256(target)
        if digest != recorded:
            raise TaskDataError(f"{target}: the cached file changed since it was downloaded "
                                f"(sha256 {digest}, recorded {recorded}); delete it to "
                                f"download it again")
        check_sha256(str(target), digest, pinned, "pinned")
        check_sha256(str(target), digest, expected, "--data-sha256")
        return Fetched(target, digest, read(target))
    if offline:
        raise DatasetUnavailableError("HF_HUB_OFFLINE is set")
    where = urlsplit(url)
    _reachable(where.hostname or "", where.port or (443 if where.scheme == "https" else 80))
    from medq._atomic import atomic_path, atomic_write_text

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as partial:
        digest = _download(url, partial)
        check_sha256(url, digest, pinned, "pinned", "; nothing was cached")
        check_sha256(url, digest, expected, "--data-sha256", "; nothing was cached")
        try:
            value = read(partial)
        except TaskDataError as exc:
            raise TaskDataError(f"{url}: the download does not read as the release file "
                                f"({str(exc).replace(str(partial), 'the file')}); nothing "
                                f"was cached") from None
        # The record first: a data file without one is never taken for verified.
        atomic_write_text(record, f"{digest}  {target.name}\n")
    return Fetched(target, digest, value)


def _download(url: str, path: Path) -> str:
    """Stream `url` into `path`; its sha256. DatasetUnavailableError when the transfer
    fails or ends before the announced size."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as response, \
                open(path, "wb") as out:
            announced = response.headers.get("Content-Length")
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except (OSError, http.client.HTTPException) as exc:
        # http.client's IncompleteRead (a connection cut mid-body) is not an OSError.
        raise DatasetUnavailableError(f"the transfer failed ({exc!r}); nothing was "
                                      f"cached") from None
    if announced is not None and announced.isdigit() and size != int(announced):
        raise DatasetUnavailableError(f"the download was cut short ({size:,} of "
                                      f"{int(announced):,} bytes); nothing was cached")
    return digest.hexdigest()


def _recorded(record: Path) -> str | None:
    """The sha256 recorded at download, or None (no record, or not a sha256)."""
    try:
        words = record.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    return words[0] if words and _SHA256.fullmatch(words[0]) else None


def _reachable(host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    except OSError as exc:
        raise DatasetUnavailableError(
            f"{host}:{port} unreachable ({exc.strerror or exc or 'timed out'})") from None
