"""Harness CPU of medq's per-call path against a durable floor (issue 19, item 1).

`medq eval --strategy direct` over the 1,273 MedQA (US, 4-option) test questions, 32 in
flight, against `medq.testing.openai_server` (0 ms latency) in its own process; client CPU
is user + sys of the eval process from ``os.wait4`` (the server never counts). Beside it, in
the same run and interleaved A/B/A/B:

- *bare floor*: an aiohttp loop that POSTs the same number of chat requests;
- *durable floor*: the same loop that also commits each finished item to SQLite (WAL,
  ``synchronous=NORMAL``, as medq's store) in its own transaction before taking the next
  result, so a SIGKILL loses nothing finished: the least any harness with medq's
  guarantee must spend.

``--baseline SRC`` also runs the medq whose ``src`` folder is SRC (another checkout, e.g.
``git archive main``), in the same interleaving, for a before/after under the same load.
``--profile`` runs medq once more under cProfile (written to ``bench/.work/call_path.prof``,
top functions printed). Usage::

    .venv/bin/python bench/profile_call_path.py --repeats 3
    .venv/bin/python bench/profile_call_path.py --repeats 5 --baseline /tmp/main/src
    .venv/bin/python bench/profile_call_path.py --repeats 1 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
PYTHON = ROOT / ".venv" / "bin" / "python"
MEDQ = ROOT / ".venv" / "bin" / "medq"
DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")
MODEL = "bench-model"
CONCURRENCY = 32


class Server:
    """medq's fake OpenAI server in a subprocess (fresh per measurement)."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [str(PYTHON), "-m", "medq.testing.openai_server", "--port", "0",
             "--latency", str(latency), "--responder", "letter"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"server did not start (printed {self.base_url!r})")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(CPU s, wall s, exit code) of `command`, CPU from the child's own rusage."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=sink,
                                stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        assert proc.stderr is not None
        sys.stderr.write(proc.stderr.read().decode(errors="replace")[-2000:])
    return usage.ru_utime + usage.ru_stime, wall, rc


def env_for(home: Path, src: Path | None = None) -> dict[str, str]:
    # Bytecode written and read as in an installed medq (the warm-up writes it).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "MEDQ_")) and k not in ("PYTHONDONTWRITEBYTECODE",
                                                                   "PYTHONPATH")}
    env.update(OPENAI_API_KEY="dummy", MEDQ_HOME=str(home), NO_COLOR="1")
    if src is not None:
        env["PYTHONPATH"] = str(src)  # ahead of the editable install of this checkout
    return env


def medq_command(base_url: str, data: Path, limit: int | None) -> list[str]:
    command = [str(PYTHON), "-m", "medq.cli", "eval", "--task", "medqa",
               "--model", f"openai/{MODEL}",
               "--strategy", "direct", "--concurrency", str(CONCURRENCY),
               "--data", str(data), "--base-url", base_url]
    return command + (["--limit", str(limit)] if limit else [])


def floor_loop(base_url: str, data: Path, limit: int | None, db_path: str | None) -> None:
    """POST one chat request per question; with `db_path`, commit each finished item."""
    import aiohttp

    questions = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    questions = questions[:limit] if limit else questions
    db = None
    if db_path:
        db = sqlite3.connect(db_path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, request TEXT, response TEXT)")

    async def main() -> int:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        url = f"{base_url}/chat/completions"
        async with aiohttp.ClientSession() as session:

            async def ask(i: int, q: dict[str, Any]) -> None:
                prompt = q["question"] + "".join(
                    f"\n{k}. {v}" for k, v in q["options"].items()) + "\nAnswer:"
                body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}],
                        "temperature": 0, "max_tokens": 16}
                async with semaphore, session.post(url, json=body) as r:
                    r.raise_for_status()
                    reply = await r.json()
                if db is not None:
                    db.execute("BEGIN")
                    db.execute("INSERT INTO items VALUES (?,?,?)",
                               (i, json.dumps(body), json.dumps(reply)))
                    db.execute("COMMIT")

            await asyncio.gather(*(ask(i, q) for i, q in enumerate(questions)))
        return len(questions)

    print(f"answered {asyncio.run(main())}")


def one(tool: str, data: Path, limit: int | None,
        baseline: Path | None = None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="medq-prof-", dir=WORK) as tmp, Server(0) as server:
        home = Path(tmp)
        src = baseline if tool == "medq (baseline)" else None
        if tool.startswith("medq"):
            command = medq_command(server.base_url, data, limit)
        else:
            command = [str(PYTHON), __file__, "--floor", server.base_url,
                       "--data", str(data)] + (["--limit", str(limit)] if limit else [])
            if tool == "durable floor":
                command += ["--db", str(home / "floor.sqlite")]
        cpu, wall, rc = measured(command, env_for(home, src))
        if rc != 0:
            raise SystemExit(f"{tool} failed (exit {rc})")
        return cpu, wall


def profile(data: Path, limit: int | None) -> None:
    import pstats

    out = WORK / "call_path.prof"
    with tempfile.TemporaryDirectory(prefix="medq-prof-", dir=WORK) as tmp, Server(0) as server:
        command = [str(PYTHON), "-m", "cProfile", "-o", str(out), str(MEDQ),
                   *medq_command(server.base_url, data, limit)[3:]]
        measured(command, env_for(Path(tmp)))
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", choices=("medq", "floors"), default=None)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="the src folder of another medq to run beside this one")
    parser.add_argument("--floor", metavar="BASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor_loop(args.floor, args.data, args.limit, args.db)
        return
    if not args.data.exists():
        raise SystemExit(f"{args.data}: not found (the MedQA test split; see --data)")
    WORK.mkdir(parents=True, exist_ok=True)
    tools = {"medq": ["medq"], "floors": ["bare floor", "durable floor"]}.get(
        args.only or "", ["medq", "bare floor", "durable floor"])
    if args.baseline is not None:
        tools.insert(1, "medq (baseline)")
    for tool in tools:  # warm-up: bytecode written, caches filled
        one(tool, args.data, 20, args.baseline)
    results: dict[str, list[tuple[float, float]]] = {t: [] for t in tools}
    for _ in range(args.repeats):
        for tool in tools:  # interleaved: load drifts alike for every tool
            results[tool].append(one(tool, args.data, args.limit, args.baseline))
            cpu, wall = results[tool][-1]
            print(f"  {tool:14} {cpu:6.3f} CPU-s {wall:6.3f} s wall", file=sys.stderr)
    if args.repeats:
        report(results, args.repeats)
    if args.profile:
        profile(args.data, args.limit)


def report(results: dict[str, list[tuple[float, float]]], repeats: int) -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; {repeats} interleaved repeats, medians")
    print("| client | CPU-s | wall-s | CPU-s (all repeats) |")
    print("|---|---:|---:|---|")
    for tool, runs in results.items():
        cpus = [c for c, _ in runs]
        print(f"| {tool} | {statistics.median(cpus):.3f} | "
              f"{statistics.median(w for _, w in runs):.3f} | "
              f"{', '.join(f'{c:.3f}' for c in cpus)} |")
    if "medq" in results and "durable floor" in results:
        ratio = statistics.median(c for c, _ in results["medq"]) / statistics.median(
            c for c, _ in results["durable floor"])
        print(f"medq / durable floor: {ratio:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
