"""Export a run's per-item results as JSON Lines, CSV or Parquet."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from medq.store import Store

COLUMNS = (
    "run_id", "item_id", "position", "status", "choice", "gold", "correct", "truncated",
    "confidence", "reason", "response", "calls", "prompt_tokens", "completion_tokens",
    "details",
)


def export_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's items as flat dicts (details as a JSON string)."""
    rows = []
    for s in store.samples(run_id):
        row = {c: s[c] for c in COLUMNS}
        row["details"] = json.dumps(s["details"], sort_keys=True)
        rows.append(row)
    return rows


def export_run(run: str, fmt: str, output: Path | None, store: Store | None = None) -> None:
    """Write run `run` (ID, prefix or 'last') in format `fmt` to `output` (or stdout)."""
    if fmt not in {"jsonl", "csv", "parquet"}:
        raise ValueError(f"export format must be jsonl, csv or parquet, not {fmt!r}")
    own = store is None
    store = store or Store()
    try:
        rows = export_rows(store, store.resolve_run_id(run))
    finally:
        if own:
            store.close()
    if fmt == "parquet":
        if output is None:
            raise ValueError("parquet export needs -o FILE")
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError("parquet export needs pyarrow: pip install 'medq[parquet]'") from None
        pq.write_table(pa.Table.from_pylist(rows), output)
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
        sys.stdout.write(buffer.getvalue())
    else:
        output.write_text(buffer.getvalue(), encoding="utf-8")
