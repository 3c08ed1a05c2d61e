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
    errno.EACCES: ("permission denied", "check its permissions (or use another folder)"),
    errno.EPERM: ("permission denied", "check its permissions (or use another folder)"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder",
                    "check the path (is MEDQ_HOME a file?)"),
    errno.EISDIR: ("it is a folder, not a file", "name a file"),
    errno.EEXIST: ("a file is in the way of a folder", "check the path (is MEDQ_HOME a file?)"),
    errno.EFBIG: ("the file grew past the size limit", "write elsewhere or raise the limit"),
}
HANDLED_ERRNOS = frozenset(_HINTS)


def describe_os_error(exc: OSError, path: str | os.PathLike[str] | None = None,
                      doing: str | None = None) -> StorageError | None:
    """A `StorageError` for an OSError caused by the machine (see `HANDLED_ERRNOS`), e.g.
    "could not write report.html: the disk is full; free some space or write elsewhere";
    None for any other error, which is left to propagate. Without `doing` the line says
    "cannot use PATH"."""
    hint = _HINTS.get(exc.errno or 0)
    if hint is None:
        return None
    what, todo = hint
    target = path if path is not None else exc.filename
    where = f" {Path(target)}" if target is not None else ""
    verb = f"could not {doing}" if doing else "cannot use"
    return StorageError(f"{verb}{where}: {what}; {todo}")
