"""Whether a run is alive: the lock a running run holds, its owner, and its heartbeat.

A run (an eval or an import) holds an exclusive lock on a file beside the store while it
executes, so a second process given the same spec refuses instead of paying for every
call again. The operating system drops the lock when the process dies, however it dies,
so a run recorded as ``running`` whose lock nobody holds was killed: readers show it as
``stale``. The owner's pid, host and a heartbeat are recorded too, for a store shared
between hosts (where another host's lock cannot be seen): there a run is stale once its
heartbeat is older than `STALE_AFTER_S`.

Example::

    lock = RunLock(store)
    lock.acquire(run_id)          # RunBusyError if another process runs it
    try:
        lock.claim()              # record pid/host; heartbeat while the loop runs
        ...
    finally:
        lock.release()
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: liveness falls back to the heartbeat
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import asyncio

    from medq.store import Store

HEARTBEAT_S = 10.0
STALE_AFTER_S = 60.0
# How long to retry a lock held for a moment by a reader probing it (see `lock_held`).
_ACQUIRE_GRACE_S = 1.0
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


#: What each status other than ``finished`` means for the numbers shown beside it.
STATUS_MEANING = {
    "running": "still running",
    "interrupted": "stopped before the end; run the same command again to resume",
    "stale": "recorded as running, but its process is gone (killed); run the same "
             "command again to resume",
    "failed": "no or too little evidence; fix the cause and run the same command again",
}


def stored_items(summary: Mapping[str, Any]) -> int:
    """The items a run has stored a result for: those in n, the errors, and the items a
    judge could not grade (ungraded: stored, counted apart from n)."""
    return int(summary["n"] + summary["errors"] + (summary.get("ungraded") or 0))


def is_complete(summary: Mapping[str, Any]) -> bool:
    """Whether a run's numbers cover all its items: finished, every item stored."""
    return summary["status"] == "finished" and stored_items(summary) >= summary["n_items"]


def status_text(summary: Mapping[str, Any]) -> str:
    """``finished, 50 of 50 items``; for an incomplete run also what its status means."""
    stored = stored_items(summary)
    text = f"{summary['status']}, {stored} of {summary['n_items']} items"
    meaning = STATUS_MEANING.get(summary["status"])
    if meaning:
        text += f" ({meaning})"
    elif stored < summary["n_items"]:
        text += " (incomplete)"
    return text


class RunBusyError(RuntimeError):
    """Another live process is running the same run; starting it again would pay twice."""


def host_name() -> str:
    """This machine's name, as recorded beside a run's pid."""
    return socket.gethostname()


def lock_path(store_path: Path, run_id: str) -> Path:
    """The lock file of `run_id` for the store at `store_path`."""
    name = run_id if _SAFE_NAME.fullmatch(run_id) else hashlib.sha256(
        run_id.encode()).hexdigest()[:32]
    return store_path.parent / "locks" / f"{store_path.name}-{name}.lock"


def lock_held(path: Path) -> bool:
    """Whether some process holds the lock at `path` (False when the file is absent).

    Probes with a shared lock, released at once; an owner's exclusive lock makes it fail.
    """
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def is_alive(store: Store, run_id: str, owner: dict[str, Any] | None) -> bool:
    """Whether the process running `run_id` (recorded as `owner`) still lives."""
    if owner is not None and (owner["host"] != host_name() or fcntl is None):
        return time.time() - owner["heartbeat"] < STALE_AFTER_S
    return lock_held(lock_path(store.path, run_id))


class RunLock:
    """The exclusive lock a run holds while it executes (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.run_id: str | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._beat: asyncio.Task[None] | None = None

    def acquire(self, run_id: str) -> None:
        """Take the run's lock, or raise RunBusyError naming the process that holds it."""
        path = lock_path(self.store.path, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _ACQUIRE_GRACE_S
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise RunBusyError(self._busy_message(run_id)) from None
            # The previous owner may have removed the file between our open and our lock.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.run_id, self._fd, self._path = run_id, fd, path

    def _busy_message(self, run_id: str) -> str:
        owner = self.store.run_owner(run_id)
        who = "another process"
        if owner is not None:
            ago = time.time() - owner["started_at"]
            who = f"process {owner['pid']} on {owner['host']} (started {ago:.0f} s ago)"
        return (f"run {run_id} is already running in {who}; wait for it to finish (or stop "
                "it), then run the same command again to resume")

    def claim(self) -> None:
        """Record this process as the run's owner; heartbeat while an event loop runs."""
        assert self.run_id is not None, "acquire the lock first"
        self.store.claim_run(self.run_id, os.getpid(), host_name())
        import asyncio  # here: `medq runs` and `show` read liveness without an event loop

        with contextlib.suppress(RuntimeError):  # no running loop: no heartbeat needed
            self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        import asyncio

        assert self.run_id is not None
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            self.store.heartbeat(self.run_id)

    def release(self) -> None:
        """Stop the heartbeat and drop the lock (removing its file)."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self._fd is not None and self._path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            os.close(self._fd)
        self._fd = self._path = None
