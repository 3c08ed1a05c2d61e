"""Helpers for sweep tests: plan files, and a store's results in comparable form."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_plan(folder: Path, base_urls: Sequence[str], *, models: Sequence[str] = ("openai/a",
               "openai/b", "openai/c"), tasks: Sequence[str] = ("medqa", "medmcqa"),
               strategies: Sequence[str] = ("direct", "cot"), limit: int = 4,
               budgets: dict[str, int] | None = None, name: str = "grid") -> Path:
    urls = json.dumps(list(base_urls)) if len(base_urls) > 1 else json.dumps(base_urls[0])
    lines = [
        f"models = {json.dumps(list(models))}",
        f"tasks = {json.dumps(list(tasks))}",
        f"strategies = {json.dumps(list(strategies))}",
        "seeds = [0]",
        "sample = true",
        f"limit = {limit}",
        f"base_url = {urls}",
    ]
    if budgets:
        lines.append("[budgets]")
        lines += [f"{json.dumps(url)} = {n}" for url, n in budgets.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def store_content(path: Path) -> dict[str, Any]:
    """Everything a merged store says about its runs, without times and wall clocks."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    runs = {r["run_id"]: (r["status"], r["task"], r["model"], r["strategy"], r["spec"])
            for r in db.execute("SELECT * FROM runs")}
    samples = sorted(
        (r["run_id"], r["item_id"], r["extractor"], r["status"], r["choice"], r["correct"],
         r["calls"], r["new_calls"], r["call_keys"], r["response"])
        for r in db.execute("SELECT * FROM samples"))
    calls = sorted((r["key"], r["model"], r["request"], r["response"])
                   for r in db.execute("SELECT * FROM calls"))
    db.close()
    return {"runs": runs, "samples": samples, "calls": calls}
