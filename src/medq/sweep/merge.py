"""Merging a sweep's shard stores into one store, so ``show``, ``compare`` and ``report``
see every run.

Run identity is kept as is: a shard's store holds exactly the run (ID, spec, info) a plain
``medq eval`` would have written. Calls are deduplicated by their content key (the first
record of a key wins, as in `Store.put_call`); results are copied per extractor version
(``samples`` is keyed by run, item and extractor); a run already in the target that was
updated after the shard's copy keeps its own row and results. Every other table (those
later migrations add: run liveness, shared request texts) is copied
by its common columns: a table with a ``run_id`` follows its run's rule, the others
insert-or-ignore on their keys (content-addressed), so a new table merges without a change
here. Merging twice changes nothing the second time.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medq.sweep.plan import SweepPlan

__all__ = ["MergeReport", "merge_stores", "merge_sweep"]

_SKIP = {"_migrations", "sqlite_sequence"}


@dataclass
class MergeReport:
    """What a merge did, counted over all shard stores."""

    stores: int = 0
    runs: int = 0
    samples: int = 0
    calls_added: int = 0
    calls_present: int = 0
    missing: list[str] = field(default_factory=list)


def _columns(db: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA {schema}.table_info({table})")]


@contextlib.contextmanager
def _attached(db: sqlite3.Connection, path: Path) -> Iterator[None]:
    db.execute("ATTACH DATABASE ? AS shard", (f"file:{path}?mode=ro",))
    try:
        yield
    finally:
        db.execute("DETACH DATABASE shard")


def _merge_table(db: sqlite3.Connection, table: str) -> None:
    """Any other table, by its columns in common: a table keyed by run (liveness) follows
    its run's rule; the others (content-addressed request texts) insert or ignore on their
    keys."""
    target = set(_columns(db, "main", table))
    common = [c for c in _columns(db, "shard", table) if c in target]
    if not common:
        return
    listed = ",".join(common)
    if "run_id" in common:
        db.execute(f"INSERT OR REPLACE INTO main.{table} ({listed}) SELECT {listed} FROM "
                   f"shard.{table} WHERE run_id IN (SELECT run_id FROM temp.taken)")
        db.execute(f"INSERT OR IGNORE INTO main.{table} ({listed}) SELECT {listed} FROM "
                   f"shard.{table} WHERE run_id NOT IN (SELECT run_id FROM temp.taken)")
    else:
        db.execute(f"INSERT OR IGNORE INTO main.{table} ({listed}) SELECT {listed} "
                   f"FROM shard.{table}")


def _merge_one(db: sqlite3.Connection, path: Path, report: MergeReport) -> None:
    with _attached(db, path):
        db.execute("BEGIN IMMEDIATE")
        try:
            # Runs the target holds in a newer state are the target's (resumed there).
            db.execute("CREATE TEMP TABLE taken AS SELECT s.run_id FROM shard.runs s "
                       "LEFT JOIN main.runs m ON m.run_id = s.run_id "
                       "WHERE m.run_id IS NULL OR m.updated_at <= s.updated_at")
            runs = ",".join(_columns(db, "main", "runs"))
            report.runs += db.execute(
                f"INSERT OR REPLACE INTO main.runs ({runs}) SELECT {runs} FROM shard.runs "
                "WHERE run_id IN (SELECT run_id FROM temp.taken)").rowcount
            cols = ",".join(_columns(db, "main", "samples"))
            report.samples += db.execute(
                f"INSERT OR REPLACE INTO main.samples ({cols}) SELECT {cols} FROM shard.samples"
                " WHERE run_id IN (SELECT run_id FROM temp.taken)").rowcount
            db.execute(f"INSERT OR IGNORE INTO main.samples ({cols}) SELECT {cols} "
                       "FROM shard.samples WHERE run_id NOT IN (SELECT run_id FROM temp.taken)")
            cols = ",".join(_columns(db, "main", "calls"))
            total = db.execute("SELECT COUNT(*) FROM shard.calls").fetchone()[0]
            added = db.execute(
                f"INSERT OR IGNORE INTO main.calls ({cols}) SELECT {cols} FROM shard.calls"
            ).rowcount
            report.calls_added += added
            report.calls_present += total - added
            errors = [c for c in _columns(db, "main", "call_errors") if c != "id"]
            names = ",".join(errors)
            same = " AND ".join(f"m.{c} IS s.{c}" for c in errors)
            db.execute(f"INSERT INTO main.call_errors ({names}) SELECT {names} FROM "
                       f"shard.call_errors s WHERE NOT EXISTS (SELECT 1 FROM main.call_errors"
                       f" m WHERE {same})")
            done = {"runs", "samples", "calls", "call_errors"}
            tables = [r[0] for r in db.execute(
                "SELECT name FROM shard.sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table in done or table in _SKIP:
                    continue
                _merge_table(db, table)
            db.execute("DROP TABLE temp.taken")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    report.stores += 1


def merge_stores(shards: list[Path], target: Path) -> MergeReport:
    """Union the stores `shards` into the store at `target` (created if absent).

    Raises:
        StoreError: a store cannot be opened, or is not medq's.
    """
    from medq._store_open import connect
    from medq.store import Store

    Store(target).close()  # creates or upgrades the target's schema
    report = MergeReport()
    db = connect(target, readonly=False)
    try:
        for path in shards:
            if not path.exists():
                report.missing.append(str(path))
                continue
            Store(path).close()  # an older shard store is upgraded to the same schema
            _merge_one(db, path.resolve(), report)
    finally:
        db.close()
    return report


def merge_sweep(plan: SweepPlan, target: Path | None = None) -> MergeReport:
    """Union every shard store of `plan` into `target` (default: medq's store); shards
    not started yet are listed in ``report.missing``."""
    from medq.store import medq_home

    target = target or medq_home() / "medq.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    report = merge_stores([plan.store_path(s) for s in plan.shards], target)
    names = {str(plan.store_path(s)): s.shard_id for s in plan.shards}
    report.missing = [names[m] for m in report.missing]
    return report
