"""The floors of the HTTP eval bench (`bench_http_eval.py`): what any harness must pay.

*bare*: one chat POST per question over aiohttp, `concurrency` in flight, answers kept in
memory. *durable*: the same loop, and each finished item committed to SQLite in its own
transaction, with the pragmas medq's store uses (WAL, ``synchronous=NORMAL``), so a
SIGKILL loses no finished item. Issue 19 measured that batching the commits would save
0.06–0.08 CPU-s per 1,273 items and lose that guarantee, so the durable floor keeps one
transaction per item.

This module is imported (not run as a script) so that Python caches its bytecode, as it
does for the installed tools it is compared with::

    python -c "import sys; sys.path.insert(0, 'bench'); import http_floor; http_floor.main()" \
        BASE_URL DATA.jsonl 32 [STORE.sqlite]
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

MODEL = "bench-model"


def prompt(row: dict[str, Any]) -> str:
    """The question and its lettered options, as one user message."""
    options = "".join(f"\n{k}. {v}" for k, v in row["options"].items())
    return f"{row['question']}{options}\nAnswer:"


async def ask_all(base_url: str, rows: list[dict[str, Any]], concurrency: int,
                  db: sqlite3.Connection | None) -> int:
    """POST every row's question; with `db`, commit each answer as it arrives."""
    import aiohttp

    semaphore = asyncio.Semaphore(concurrency)
    url = f"{base_url}/chat/completions"
    headers = {"Authorization": "Bearer dummy"}
    answered = 0

    async with aiohttp.ClientSession() as session:

        async def ask(index: int, row: dict[str, Any]) -> None:
            nonlocal answered
            body = {"model": MODEL, "messages": [{"role": "user", "content": prompt(row)}],
                    "temperature": 0, "max_tokens": 16}
            async with semaphore, session.post(url, json=body, headers=headers) as response:
                response.raise_for_status()
                raw = await response.read()
            text = json.loads(raw)["choices"][0]["message"]["content"]
            if db is not None:
                # Autocommit mode: this one statement is one committed transaction.
                db.execute("INSERT INTO items VALUES (?, ?, ?, ?)",
                           (f"{index:05d}", json.dumps(body), raw.decode(), text))
            answered += 1

        await asyncio.gather(*(ask(i, row) for i, row in enumerate(rows)))
    return answered


def open_store(path: Path) -> sqlite3.Connection:
    """A fresh SQLite file with medq's durability pragmas."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, request TEXT NOT NULL, "
               "response TEXT NOT NULL, answer TEXT)")
    return db


def main(argv: list[str] | None = None) -> None:
    """``BASE_URL DATA CONCURRENCY [STORE]``: answer every question; print how many."""
    args = sys.argv[1:] if argv is None else argv
    base_url, data, concurrency = args[0], Path(args[1]), int(args[2])
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    db = open_store(Path(args[3])) if len(args) > 3 else None
    try:
        answered = asyncio.run(ask_all(base_url, rows, concurrency, db))
    finally:
        if db is not None:
            db.close()
    print(f"answered {answered}")
