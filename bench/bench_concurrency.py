"""Adaptive vs fixed concurrency against a server that rate-limits above a threshold.

The adaptive window is AIMD congestion control (Chiu & Jain, "Analysis of the Increase and
Decrease Algorithms for Congestion Avoidance in Computer Networks", 1989; Jacobson,
"Congestion Avoidance and Control", SIGCOMM 1988); see `medq.concurrency`.

`medq.testing.openai_server` runs in its own process with ``--max-concurrent T``: it
answers at most T chat requests at once, counted on the server, after ``--latency``
seconds each, and answers a 429 at once (``Retry-After``, ``x-ratelimit-remaining-requests:
0``) to any request beyond T. medq evaluates the same items with ``--concurrency`` 4, 8, 16,
32, 64 and ``auto`` (default ceiling 64), the one retry policy (4 retries) and no error
bound, so a run with exhausted retries still finishes and is counted. Settings are
interleaved within each repeat (4, 8, …, auto, then again), a fresh server and store per
run; the median of the repeats is reported and every repeat is kept in the JSON.

Per run: wall seconds of the evaluation (from the first call to the last stored item, as
the store records it), throughput (items / wall), 429s the server sent, items whose retries
ran out (errors), the most requests the server held at once, and for ``auto`` the window's
final and peak size and its decreases.

Usage::

    .venv/bin/python bench/bench_concurrency.py                  # T=16, 50 ms, 1,000 items
    .venv/bin/python bench/bench_concurrency.py --items 200 --repeats 1   # smoke test

Results go to ``bench/.work/concurrency_T<limit>.json``; a markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")
SETTINGS: tuple[int | str, ...] = (4, 8, 16, 32, 64, "auto")
TARGET = 0.20  # auto's throughput within 20% of the best fixed setting


def serve(latency: float, limit: int, retry_after: str) -> None:
    """The rate-limiting server plus GET /_bench/stats; prints its base URL."""
    import signal

    from aiohttp import web

    from medq.testing.openai_server import FakeOpenAIServer

    class CountingServer(FakeOpenAIServer):
        def app(self) -> web.Application:
            app = super().app()
            app.router.add_get("/_bench/stats", self._stats)
            return app

        async def _stats(self, request: web.Request) -> web.Response:
            return web.json_response({"requests": len(self.bodies) + self.rate_limited,
                                      "rate_limited": self.rate_limited,
                                      "max_in_flight": self.max_in_flight,
                                      "max_admitted": self.max_admitted})

    server = CountingServer(latency=latency, max_concurrent=limit, retry_after=retry_after)

    async def run() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        async with server:
            print(server.base_url, flush=True)
            await done.wait()

    asyncio.run(run())


class Server:
    """A server subprocess for one run (fresh counters, fresh connections)."""

    def __init__(self, latency: float, limit: int, retry_after: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--latency", str(latency), "--limit",
             str(limit), "--retry-after", retry_after],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"server did not start (printed {self.base_url!r})")

    def stats(self) -> dict[str, Any]:
        url = self.base_url.removesuffix("/v1") + "/_bench/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(json.load(response))

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(setting: int | str, args: argparse.Namespace, data: Path | None) -> dict[str, Any]:
    """One evaluation of `args.items` items at `setting` against a fresh server."""
    import sqlite3

    from medq.runner import EvalSpec, evaluate
    from medq.store import Store

    with Server(args.latency, args.limit, args.retry_after) as server, \
            tempfile.TemporaryDirectory() as home:
        store_path = Path(home) / "medq.sqlite"
        spec = EvalSpec(task=args.task, model="openai/bench-model", base_url=server.base_url,
                        data=str(data) if data else None, sample=data is None,
                        limit=args.items)
        with Store(store_path) as store:
            started = time.perf_counter()
            result = evaluate(spec, store=store, concurrency=setting, max_error_rate=1.0,
                              progress=False)
            outer = time.perf_counter() - started
            run = store.run(result.run_id)
            n = sum(1 for _ in store.samples(result.run_id))
        stats = server.stats()
        db = sqlite3.connect(store_path)
        exhausted = db.execute("SELECT COUNT(*) FROM call_errors").fetchone()[0]
        db.close()
    wall = float(run["wall_s"]) if run.get("wall_s") else outer
    window = run["info"]["window"]
    return {"setting": str(setting), "items": n, "wall_s": wall, "outer_s": outer,
            "items_per_s": n / wall, "errors": result.summary["errors"],
            "exhausted_retries": exhausted, **stats,
            "window_final": window["final"], "window_peak": window["peak"],
            "decreases": window["decreases"], "trajectory": window["trajectory"]}


def median_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeat with the median throughput (a real run, not a mix of runs)."""
    ranked = sorted(rows, key=lambda r: r["items_per_s"])
    return ranked[(len(ranked) - 1) // 2] if len(ranked) % 2 else ranked[len(ranked) // 2 - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--limit", type=int, default=16, help="requests the server admits")
    parser.add_argument("--retry-after", default="1", help="Retry-After of a 429, seconds")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", default="medqa")
    args = parser.parse_args()
    if args.serve:
        serve(args.latency, args.limit, args.retry_after)
        return
    os.environ.setdefault("OPENAI_API_KEY", "dummy")
    data = DATA if DATA.is_file() and args.task == "medqa" else None
    load = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for setting in SETTINGS:
            row = measure(setting, args, data)
            row["repeat"] = repeat
            rows.append(row)
            print(f"repeat {repeat} --concurrency {setting}: {row['items_per_s']:.1f} items/s, "
                  f"{row['rate_limited']} × 429, {row['exhausted_retries']} exhausted",
                  file=sys.stderr)
    medians = {str(s): median_of([r for r in rows if r["setting"] == str(s)])
               for s in SETTINGS}
    best = max((medians[str(s)] for s in SETTINGS if s != "auto"),
               key=lambda r: r["items_per_s"])
    auto = medians["auto"]
    ratio = auto["items_per_s"] / best["items_per_s"]
    result = {
        "load": {"loadavg_at_start": load, "loadavg_at_end": os.getloadavg(),
                 "cpus": os.cpu_count(), "python": platform.python_version()},
        "server": {"latency_s": args.latency, "max_concurrent": args.limit,
                   "retry_after": args.retry_after},
        "items": args.items, "data": str(data) if data else f"{args.task} sample",
        "ideal_items_per_s": args.limit / args.latency,
        "rows": rows, "auto_over_best_fixed": ratio, "best_fixed": best["setting"],
        "target_met": ratio >= 1 - TARGET and auto["exhausted_retries"] == 0,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"concurrency_T{args.limit}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"T={args.limit} in flight, {args.latency * 1000:g} ms per request, Retry-After "
          f"{args.retry_after} s, {args.items} items, median of {args.repeats}; load "
          f"{load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end; ideal "
          f"{args.limit / args.latency:.0f} items/s\n")
    print("| --concurrency | items/s | wall-s | 429s | exhausted retries | server max in "
          "flight | window final / peak | decreases |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in SETTINGS:
        r = medians[str(s)]
        window = f"{r['window_final']} / {r['window_peak']}" if s == "auto" else "—"
        decreases = str(r["decreases"]) if s == "auto" else "—"
        print(f"| {s} | {r['items_per_s']:.1f} | {r['wall_s']:.2f} | {r['rate_limited']} | "
              f"{r['exhausted_retries']} | {r['max_in_flight']} | {window} | {decreases} |")
    spread = sorted(round(r["items_per_s"], 1) for r in rows if r["setting"] == "auto")
    print(f"\nauto / best fixed ({best['setting']}): {ratio:.2f} (target ≥ {1 - TARGET:.2f}, "
          f"zero exhausted retries: {'met' if result['target_met'] else 'NOT met'}); "
          f"auto's repeats: {spread} items/s")


if __name__ == "__main__":
    main()
