"""Rebuild the bundled MedCalc-Bench sample from the v1.0 test parquet.

    python tests/medcalc/build_medcalc_sample.py [SHARED_DATA [OUT]]

The sample is a CSV in the GitHub release's ``test_data.csv`` columns: the first 2 rows of
25 calculators (50 rows), calculators taken round-robin across the 7 categories in
ascending Calculator ID, so every category and answer format (decimal, integer, date,
weeks/days) is present and every row has another row of its calculator (one_shot_cot).
tests/medcalc/test_medcalc_task.py checks a rebuild reproduces the shipped file.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N_CALCULATORS = 25
ROWS_PER_CALCULATOR = 2
COLUMNS = (
    "Row Number", "Calculator ID", "Calculator Name", "Category", "Output Type", "Note ID",
    "Note Type", "Patient Note", "Question", "Relevant Entities", "Ground Truth Answer",
    "Lower Limit", "Upper Limit", "Ground Truth Explanation",
)


def sample_rows(rows: list[dict]) -> list[dict]:
    """The sample's rows, in release order."""
    by_category: dict[str, list[int]] = {}
    for row in rows:
        ids = by_category.setdefault(row["Category"], [])
        if row["Calculator ID"] not in ids:
            ids.append(row["Calculator ID"])
    queues = {c: sorted(ids) for c, ids in sorted(by_category.items())}
    chosen: list[int] = []
    while len(chosen) < N_CALCULATORS and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < N_CALCULATORS:
                chosen.append(queue.pop(0))
    taken: dict[int, int] = {}
    out = []
    for row in rows:
        calc = row["Calculator ID"]
        if calc in chosen and taken.get(calc, 0) < ROWS_PER_CALCULATOR:
            taken[calc] = taken.get(calc, 0) + 1
            out.append(row)
    return out


def build(shared: Path, out: Path) -> Path:
    import pyarrow.parquet as pq

    rows = pq.read_table(shared / "medcalc_bench" / "test-00000-of-00001.parquet").to_pylist()
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sample_rows(rows):
        writer.writerow({c: row[c] for c in COLUMNS})
    target = out / "samples" / "medcalc" / "test_data.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "src" / "medq" / "data"
    print(build(shared, out))
