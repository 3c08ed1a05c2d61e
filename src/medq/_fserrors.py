"""One clear line for a failure of the machine rather than of the input.

Disk full, a folder that cannot be written, a read-only file system, ``MEDQ_HOME`` pointing
at a file, a corrupt store: each becomes a `StorageError` whose message says what
happened, to which file, and what to do. The CLI prints it and exits with status 1.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["StorageError", "describe_os_error"]


class StorageError(RuntimeError):
    """A file medq needs could not be read or written: disk full, permissions, a read-only
    file system, a corrupt or truncated store. The message is one line naming the file."""


_HINTS = {
    errno.ENOSPC: ("the disk is full", "free some space or write elsewhere"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write elsewhere"),
    errno.EROFS: ("the file system is read-only", "write to another folder"),
    errno.EACCES: ("permission denied", "make it writable or write elsewhere"),
    errno.EPERM: ("permission denied", "make it writable or write elsewhere"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder",
                    "check the path (is MEDQ_HOME a file?)"),
    errno.EISDIR: ("it is a folder, not a file", "name a file"),
    errno.EEXIST: ("a file is in the way of a folder", "check the path (is MEDQ_HOME a file?)"),
    errno.EFBIG: ("the file grew past the size limit", "write elsewhere or raise the limit"),
}
HANDLED_ERRNOS = frozenset(_HINTS)


def describe_os_error(exc: OSError, path: str | os.PathLike[str] | None = None,
                      doing: str = "write") -> StorageError | None:
    """A `StorageError` for an OSError caused by the machine (see `HANDLED_ERRNOS`);
    None for any other error, which is left to propagate."""
    hint = _HINTS.get(exc.errno or 0)
    if hint is None:
        return None
    what, todo = hint
    target = path if path is not None else exc.filename
    where = f" {Path(target)}" if target is not None else ""
    return StorageError(f"could not {doing}{where}: {what}; {todo}")
