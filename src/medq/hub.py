"""Pinned downloads from the Hugging Face Hub, cached under ``$MEDQ_HOME/cache``.

Every benchmark file medq fetches names a dataset repository, a file and a pinned revision,
so the same task name always means the same bytes. ``huggingface_hub`` is imported only
when a download is actually needed (it is slow to import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medq.store import medq_home

_TRUE = {"1", "true", "yes", "on"}


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


def download(file: HubFile) -> Path:
    """The local path of `file`, downloading it into the cache if needed.

    Raises:
        OSError: the file is neither cached nor reachable (offline, network error, missing
            repository or revision); huggingface_hub's errors all derive from OSError.
    """
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(
        repo_id=file.repo_id,
        filename=file.filename,
        repo_type="dataset",
        revision=file.revision,
        cache_dir=cache_dir(),
        local_files_only=hub_offline(),
    )
    return Path(path)
