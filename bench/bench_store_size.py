"""Store bytes per item: request texts shared vs inline, in one run (issue 19).

Evaluates the bundled MedQA sample (50 items) with `runs` different scripted models (as 20
runs over a benchmark would: the same item prompts, other models) and `cot`, into a
fresh store, then VACUUMs it and divides its size by the number of stored items. "inline"
repeats the run with texts never shared (the store before shared request texts). With
`--tables`, the bytes per item of each table and index of the shared store (SQLite's
`dbstat`: pages, and the payload in them).

    .venv/bin/python bench/bench_store_size.py --runs 20 --tables
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
from pathlib import Path


def measure(runs: int, shared: bool, tables: bool = False) -> float:
    import medq.store as store_module
    from medq.runner import EvalSpec, evaluate
    from medq.store import Store
    from medq.testing.scripted import ScriptedModel

    with tempfile.TemporaryDirectory() as home:
        os.environ["MEDQ_HOME"] = home
        store_module.SHARED_TEXT_MIN = 64 if shared else 10**9
        items = 0
        with Store(Path(home) / "medq.sqlite") as store:
            for i in range(runs):
                name = f"scripted/model-{i}"
                result = evaluate(EvalSpec("medqa", name, "cot", sample=True), store=store,
                                  model=ScriptedModel(lambda r: "Let me think.\nAnswer: B",
                                                      name=name), progress=False)
                items += result.summary["n"]
        db = sqlite3.connect(Path(home) / "medq.sqlite")
        db.execute("VACUUM")
        page = db.execute("PRAGMA page_size").fetchone()[0]
        size = db.execute("PRAGMA page_count").fetchone()[0] * page
        if tables:
            print("| table or index | bytes per item (pages) | payload per item |")
            print("|---|---:|---:|")
            for name, pages, payload in db.execute(
                    "SELECT name, COUNT(*), SUM(payload) FROM dbstat GROUP BY name "
                    "ORDER BY 2 DESC"):
                if pages * page / items >= 10:
                    print(f"| {name} | {pages * page / items:,.0f} | {payload / items:,.0f} |")
        db.close()
        return size / items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tables", action="store_true", help="bytes per table and index")
    args = parser.parse_args()
    inline, shared = measure(args.runs, False), measure(args.runs, True, args.tables)
    print(f"{args.runs} runs x 50 MedQA items (cot): inline {inline:,.0f} B/item, "
          f"shared {shared:,.0f} B/item ({inline / shared:.2f}x smaller)")


if __name__ == "__main__":
    main()
