"""Opening medq's store: every way the file or its folder can be wrong becomes one line.

`connect` opens the SQLite file for `medq.store.Store`: it refuses a folder that is a
file, an empty (0-byte) or non-SQLite store, opens read-only when asked (also on a
read-only folder or file system), and creates a new store under a temporary name so that
a store without its schema is never seen. `store_error` turns an SQLite or OS failure on
the store into a `StoreError` that names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from medq._atomic import temp_path
from medq._fserrors import StorageError, describe_os_error

__all__ = ["RESULT_TABLES", "StoreError", "connect", "corrupt_message", "store_error"]


class StoreError(StorageError):
    """The store cannot be opened, read or written; the message is one line naming the
    file, what is wrong (a file where MEDQ_HOME's folder should be, a read-only or full
    disk, an empty, foreign or corrupt database) and what to do."""


SQLITE_HEADER = b"SQLite format 3\x00"
RESULT_TABLES = ("runs", "samples")
"""The tables every read command takes its numbers from; checked each time one opens."""


def store_error(exc: BaseException, path: Path) -> StoreError | None:
    """The one-line `StoreError` for an SQLite or OS failure on the store at `path`;
    None for an error that is not about the store's file (a bug, left to propagate)."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, OSError):
        described = describe_os_error(exc, exc.filename or path, "open or write")
        return None if described is None else StoreError(str(described))
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return StoreError(f"could not write the store {path}: the disk is full; free some "
                          "space and run the same command again")
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return StoreError(
            f"the store {path} is read-only: runs, show, export, report and compare still "
            "read it; to write, make it writable or set MEDQ_HOME to a writable folder")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text \
            or "not a database" in text:
        return StoreError(corrupt_message(path, text))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"the store {path} is busy: another medq process held it for more "
                          "than 10 s; try again")
    if name.startswith("SQLITE_CANTOPEN"):
        return StoreError(f"cannot open the store {path}: {_why_unopenable(path)}")
    if name.startswith(("SQLITE_IOERR", "SQLITE_PERM")):
        return StoreError(f"could not read or write the store {path} ({text}): check the disk "
                          "and the file's permissions")
    return None


def corrupt_message(path: Path, detail: str) -> str:
    return (f"the store {path} is corrupt ({detail}): run `medq doctor` to see what is "
            "damaged; restore a backup, or move the file aside to start a new store")


def _why_unopenable(path: Path) -> str:
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder; set MEDQ_HOME to a folder"
    reading = "runs, show, export, report and compare still read it"
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return (f"it is on a read-only file system ({reading}); to write, set MEDQ_HOME "
                    "to a writable folder")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return (f"it or its folder {folder} is not writable ({reading}); to write, make "
                "them writable or set MEDQ_HOME to a writable folder")
    return "check the file's permissions and the disk"


def _check_file(path: Path) -> None:
    """Refuse a store file that is empty or not SQLite before SQLite quietly reuses it."""
    with open(path, "rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        raise StoreError(
            f"the store {path} is empty (0 bytes): any runs it held are lost (a truncated "
            "copy, a full disk?); restore it from a backup, or move it aside to start anew")
    if header != SQLITE_HEADER:
        raise StoreError(f"{path} is not a medq store (not an SQLite database): set MEDQ_HOME "
                         "to medq's folder, or move the file aside to start a new store")


def _check_home(path: Path) -> None:
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder} is a file, not a folder, so the store {path.name} cannot "
                         "live in it: set MEDQ_HOME to a folder")


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the store at `path`, created first when writing to a new one."""
    _check_home(path)
    if readonly:
        if not path.exists():
            return sqlite3.connect(":memory:", isolation_level=None)  # reads as no runs
        _check_file(path)
        return _connect_readonly(path)
    if not path.exists():
        _create(path)
    _check_file(path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _connect_readonly(path: Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return db
    except sqlite3.OperationalError as exc:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if not name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")):
            raise
    # A WAL store on a read-only folder or file system: SQLite cannot make the shared-memory
    # file. With no write-ahead log left over, the main file holds every committed write
    # and nothing can be writing it, so reading it as immutable is exact.
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"the store {path} is on a read-only folder with an unfinished write-ahead log "
            f"({wal.name}): open it once where it is writable, or copy all three files")
    db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    return db


def _create(path: Path) -> None:
    """Create the store under a temporary name and link it into place, so no process ever
    sees a store file without its schema (a 0-byte store is a damaged one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            from medq.store import Store  # the one migration path, run on the new file

            staging = object.__new__(Store)
            staging._db = db
            # The schema is written with a rollback journal, straight into the file, and
            # only then is the file put in WAL mode: a write-ahead log would hold the whole
            # schema until a checkpoint at close, which ignores a full disk, so the log
            # removed below would take the schema with it and leave a damaged store.
            staging._migrate()
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        try:
            os.link(tmp, path)  # fails if another process created the store meanwhile
        except FileExistsError:
            pass
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
