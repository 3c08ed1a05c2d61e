"""``medq doctor``: check medq's folder and say what is wrong, file by file.

It checks the store (that it is an intact medq database: SQLite's full integrity check,
items of runs that do not exist), the corpora and their indexes (every file present, sizes
that agree), and the leftovers of writes that were killed before they finished. Nothing is
changed unless asked: `remove_leftovers` (``medq doctor --fix``) deletes only those
leftovers, never a run.

Example:
    >>> report = diagnose()
    >>> report.ok, [f.message for f in report.findings]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medq import _atomic
from medq.store import Store, StoreError, medq_home

__all__ = ["Diagnosis", "Finding", "diagnose", "remove_leftovers"]


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis; `level` is "ok", "note" or "problem"."""

    level: str
    message: str


@dataclass(frozen=True)
class Diagnosis:
    """Everything `diagnose` found; `ok` is False when any finding is a problem."""

    home: Path
    findings: tuple[Finding, ...]
    leftovers: tuple[Path, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(f.level != "problem" for f in self.findings)


def diagnose(home: Path | None = None) -> Diagnosis:
    """Check the medq folder `home` (default ``$MEDQ_HOME``); reads, never writes."""
    from medq.retrieval.corpora import check_corpora

    home = Path(home) if home is not None else medq_home()
    findings: list[Finding] = []
    if home.exists() and not home.is_dir():
        return Diagnosis(home, (Finding("problem", f"{home} is a file, not a folder: set "
                                                   "MEDQ_HOME to a folder"),))
    if not home.exists():
        return Diagnosis(home, (Finding("ok", f"{home} does not exist yet: no runs, "
                                              "no corpora"),))
    findings.extend(_check_store(home / "medq.sqlite"))
    findings.extend(Finding(level, message) for level, message in check_corpora())
    leftovers = tuple(_atomic.find_leftovers(home))
    for path in leftovers:
        findings.append(Finding("problem", f"{path}: left by a write that was killed before "
                                           "it finished (remove with `medq doctor --fix`)"))
    return Diagnosis(home, tuple(findings), leftovers)


def _check_store(path: Path) -> list[Finding]:
    if not path.exists():
        return [Finding("ok", f"{path}: no store yet (no runs)")]
    try:
        with Store(path, readonly=True, verify=False) as store:
            return [Finding(level, message) for level, message in store.health()]
    except StoreError as exc:
        return [Finding("problem", str(exc))]


def remove_leftovers(diagnosis: Diagnosis) -> int:
    """Delete the leftovers of killed writes that `diagnosis` found; returns how many."""
    _atomic.remove_leftovers(list(diagnosis.leftovers))
    return len(diagnosis.leftovers)
