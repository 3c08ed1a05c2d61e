"""Export a run's per-item results as JSON Lines, CSV or Parquet."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from medq._atomic import atomic_path, atomic_write_text
from medq._extras import require_extra
from medq._terminal import for_terminal
from medq.store import Store

COLUMNS = (
    "run_id", "item_id", "position", "status", "choice", "gold", "correct", "truncated",
    "confidence", "reason", "response", "calls", "prompt_tokens", "completion_tokens",
    "details", "run_status",
)


def export_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's items as flat dicts (details as a JSON string). ``run_status`` is the
    run's (``finished``, ``failed``, ``interrupted``, ``stale``...), so rows of a partial run
    never pass for a whole one."""
    run_status = store.run(run_id)["status"]
    rows = []
    for s in store.samples(run_id):
        row = {c: s[c] for c in COLUMNS if c != "run_status"}
        row["run_status"] = run_status
        row["details"] = json.dumps(s["details"], sort_keys=True)
        rows.append(row)
    return rows


def export_run(run: str, fmt: str, output: Path | None, store: Store | None = None) -> None:
    """Write run `run` (ID, prefix or 'last') in format `fmt` to `output` (or stdout).

    A file is written whole or not at all (a temporary name beside it, then renamed), so
    an export killed or out of disk space never leaves a truncated file behind.
    """
    if fmt not in {"jsonl", "csv", "parquet"}:
        raise ValueError(f"export format must be jsonl, csv or parquet, not {fmt!r}")
    if fmt == "parquet" and output is None:
        raise ValueError("parquet export needs -o FILE")
    own = store is None
    store = store or Store(readonly=True)
    try:
        rows = export_rows(store, store.resolve_run_id(run))
    finally:
        if own:
            store.close()
    if fmt == "parquet":
        assert output is not None
        pa = require_extra("pyarrow", "parquet export")
        pq = require_extra("pyarrow.parquet", "parquet export")
        with atomic_path(output) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        return
    buffer = io.StringIO()
    if fmt == "jsonl":
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if output is None:
        sys.stdout.write(for_terminal(buffer.getvalue(), sys.stdout))
    else:
        atomic_write_text(output, buffer.getvalue())
