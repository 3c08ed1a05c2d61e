"""Writes that are whole or absent: reports, exports, indexes, corpora and caches.

Every file medq writes for keeps goes to a temporary name in the target's own folder
(``.<name>.<pid>.medq-tmp``), is flushed and fsynced, and is then renamed over the target,
so a reader sees the old content or the new one, never half of it; a write that fails
(disk full, a kill) leaves the old target untouched. Directories (a corpus, a BM25 index)
are built the same way and swapped in with one rename exchange where the platform has it.

A process killed mid-write leaves its temporary behind. Such leftovers are recognised by
`is_leftover` (listings skip them, ``medq doctor`` reports them) and removed by the next
write of the same target, or by `remove_leftovers`, once their process is gone.

Example:
    >>> atomic_write_text(Path("report.html"), html)
    >>> with atomic_path(Path("run.parquet")) as tmp:
    ...     pyarrow.parquet.write_table(table, tmp)
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from medq._fserrors import StorageError, describe_os_error

if TYPE_CHECKING:
    import ctypes

__all__ = [
    "atomic_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "find_leftovers",
    "is_leftover",
    "remove_leftovers",
    "temp_path",
]

_SUFFIX = ".medq-tmp"
_LEFTOVER = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)(?:-\d+)?\.medq-(?:tmp|old)$")
_counter = itertools.count(1)  # next() is atomic under the GIL: threads get distinct names


def temp_path(target: Path, kind: str = "tmp") -> Path:
    """A fresh temporary name beside `target`, unique to this process and call, that
    `is_leftover` recognises."""
    return target.with_name(f".{target.name}.{os.getpid()}-{next(_counter)}.medq-{kind}")


def is_leftover(name: str) -> bool:
    """True for the name of a temporary that an atomic write made (finished or not)."""
    return _LEFTOVER.match(name) is not None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _dead_leftover(path: Path) -> bool:
    match = _LEFTOVER.match(path.name)
    return match is not None and not _alive(int(match.group("pid")))


def find_leftovers(root: Path) -> list[Path]:
    """Temporaries under `root` (recursively) whose writing process is gone, sorted."""
    if not root.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if _dead_leftover(path):
                found.append(path)
        dirs[:] = [d for d in dirs if not is_leftover(d)]
    return sorted(found)


def remove_leftovers(paths: list[Path]) -> None:
    """Delete the given leftovers (files or folders)."""
    for path in paths:
        _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _clean_old_temporaries(target: Path) -> None:
    """Remove the dead leftovers of earlier writes of `target` (a killed build's debris)."""
    folder = target.parent
    if not folder.is_dir():
        return
    prefix = f".{target.name}."
    for entry in os.scandir(folder):
        if entry.name.startswith(prefix):
            path = Path(entry.path)
            match = _LEFTOVER.match(entry.name)
            if match and match.group("target") == target.name and _dead_leftover(path):
                _remove(path)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; some filesystems cannot fsync a folder.
    with contextlib.suppress(OSError):
        _fsync_path(path)


def _about_target(exc: OSError, tmp: Path, target: Path) -> StorageError | None:
    """A failure to write the temporary, told as a failure to write `target` (the name a
    user gave); an error about another file (a source being read) is left alone."""
    writing = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    if writing or exc.filename is None or str(exc.filename).startswith(str(tmp)):
        return describe_os_error(exc, target, "write")
    return None


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`; when the block ends without error, the file
    written there is fsynced and renamed over `target`. On error it is removed, and a
    full disk or a folder that cannot be written is a `StorageError` naming `target`."""
    target = Path(target)
    tmp = temp_path(target)
    try:
        _clean_old_temporaries(target)
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError) and (error := _about_target(exc, tmp, target)):
            raise error from None
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` so that it is whole or not there at all."""
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(target: Path, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `target` so that it is whole or not there at all."""
    atomic_write_bytes(target, text.encode(encoding))


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target`; when the block ends without error, every
    file in it is fsynced and the folder replaces `target` (an existing one is removed)."""
    target = Path(target)
    tmp = temp_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _clean_old_temporaries(target)
        tmp.mkdir()
        yield tmp
        for folder, _, files in os.walk(tmp):
            for name in files:
                _fsync_path(Path(folder) / name)
            _fsync_dir(Path(folder))
        _swap_in(tmp, target)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError) and (error := _about_target(exc, tmp, target)):
            raise error from None
        raise
    _fsync_dir(target.parent)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put folder `tmp` at `target`, removing what was there."""
    if not target.exists():
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):  # `tmp` now holds the old copy
        _remove(tmp)
        return
    # No atomic exchange: two renames. A kill between them leaves the old copy as a
    # leftover (``…medq-old``) and no target, never a half-written target.
    old = temp_path(target, "old")
    os.rename(target, old)
    os.rename(tmp, target)
    _remove(old)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(result == 0)


_LIBC: list[ctypes.CDLL | None] = []


def _libc() -> ctypes.CDLL | None:
    if not _LIBC:
        import ctypes.util  # here: only an exchange needs it (~2.5 ms to import: issue 19)

        name = ctypes.util.find_library("c")
        try:
            _LIBC.append(ctypes.CDLL(name, use_errno=True) if name else None)
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]
