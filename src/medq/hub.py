"""Pinned downloads from the Hugging Face Hub, cached under ``$MEDQ_HOME/cache``.

Every benchmark file medq fetches names a dataset repository, a file and a pinned revision,
so the same task name always means the same bytes. ``huggingface_hub`` is imported only
when a download is actually needed (it is slow to import).

Offline is quick: a cached file is found without the network; otherwise one TCP connection
to the Hub endpoint (or the proxy) is tried, with a short timeout, before
``huggingface_hub`` is asked, because it retries an unreachable host five times with
backoff (23 s measured). ``HF_HUB_OFFLINE=1`` skips the network altogether.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from medq.store import medq_home

_TRUE = {"1", "true", "yes", "on"}
PROBE_TIMEOUT_S = 2.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


class HubUnreachableError(OSError):
    """The Hub endpoint did not accept a connection (no network, DNS failure, firewall)."""


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub dataset repository at a pinned revision (a commit SHA or a tag)."""

    repo_id: str
    filename: str
    revision: str

    @property
    def label(self) -> str:
        """Where the data came from, as recorded in `Task.source`: ``hub:<repo>@<rev>``."""
        return f"hub:{self.repo_id}@{self.revision}"


def cache_dir() -> Path:
    """medq's download cache: ``$MEDQ_HOME/cache`` (default ``~/.medq/cache``)."""
    return medq_home() / "cache"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks for cached files only (read at call time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def unreachable(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the Hub cannot be reached now, or None when its endpoint (or the HTTPS proxy,
    when one is set) accepts a TCP connection within `timeout` seconds."""
    from huggingface_hub import constants

    proxy = next((os.environ[v] for v in _PROXY_VARIABLES if os.environ.get(v)), None)
    target = urlsplit(proxy if proxy else constants.ENDPOINT)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        with socket.create_connection((target.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{target.hostname}:{port} unreachable ({exc.strerror or exc or 'timed out'})"


def require_reachable(timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise HubUnreachableError at once when the Hub cannot be reached (or HF_HUB_OFFLINE)."""
    if hub_offline():
        raise HubUnreachableError("HF_HUB_OFFLINE is set")
    reason = unreachable(timeout)
    if reason is not None:
        raise HubUnreachableError(reason)


def download(file: HubFile) -> Path:
    """The local path of `file`, from the cache or downloaded into it.

    Raises:
        OSError: the file is neither cached nor reachable (offline, network error, missing
            repository or revision); huggingface_hub's errors and `HubUnreachableError`
            all derive from OSError.
    """
    from huggingface_hub import hf_hub_download

    def fetch(*, local_files_only: bool) -> Path:
        return Path(hf_hub_download(
            repo_id=file.repo_id, filename=file.filename, repo_type="dataset",
            revision=file.revision, cache_dir=cache_dir(), local_files_only=local_files_only,
        ))

    try:
        return fetch(local_files_only=True)
    except FileNotFoundError:  # LocalEntryNotFoundError: not in the cache
        pass
    require_reachable()
    return fetch(local_files_only=False)
