"""Self-consistency with and without `n` in one request: requests per item, wall and CPU.

`medq eval --strategy self_consistency(n=5)` (base ``cot``) on MedQA (US, 4 options; the
first `--limit` test questions, or the bundled sample where ../shared/data is absent), 32
in flight, against `medq.testing.openai_server` in its own process on 127.0.0.1, in three
modes, interleaved A/B/C per repeat:

- **n**: the server serves ``n`` (as vLLM does); ``--n-per-request auto`` asks once per item;
- **no n**: the server ignores ``n`` (one choice back); ``auto`` detects that on its first
  request and asks one request per sample (the cost of detection included);
- **off**: the server serves ``n``, but ``--n-per-request off`` sends one request per
  sample (medq before issue 19).

Per mode and server latency (0 and 200 ms): chat requests the server received per item
(read from a stats route on the server), the client's wall seconds (spawn to exit) and CPU
seconds (user + sys of that one process tree, from ``os.wait4``; the server is another
process and never counts). Medians of `--repeats`, with every repeat kept in the JSON.

Usage::

    .venv/bin/python bench/bench_sampling_n.py                 # ~3 minutes
    .venv/bin/python bench/bench_sampling_n.py --limit 50 --repeats 1

Results go to ``bench/.work/sampling_n.json``; a markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
MEDQ = ROOT / ".venv" / "bin" / "medq"
DEFAULT_DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")
STRATEGY = "self_consistency(n=5)"
# mode -> (the server's n_mode, --n-per-request)
MODES = {"n": ("serve", "auto"), "no n": ("ignore", "auto"), "off": ("serve", "off")}


def serve(latency: float, n_mode: str) -> None:
    """Run the fake OpenAI server with GET /_bench/stats; print its base URL."""
    import signal

    from aiohttp import web

    from medq.testing.openai_server import FakeOpenAIServer

    class CountingServer(FakeOpenAIServer):
        def app(self) -> web.Application:
            app = super().app()
            app.router.add_get("/_bench/stats", self._stats)
            return app

        async def _stats(self, request: web.Request) -> web.Response:
            bodies = self.bodies
            return web.json_response({"chat": len(bodies),
                                      "samples": sum(int(b.get("n") or 1) for b in bodies)})

    server = CountingServer(latency=latency, n_mode=n_mode)

    async def run() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        async with server:
            print(server.base_url, flush=True)
            await done.wait()

    asyncio.run(run())


def measure(mode: str, latency: float, data: Path | None, limit: int) -> dict[str, Any]:
    """One eval in a fresh MEDQ_HOME against a fresh server: requests, wall, CPU."""
    n_mode, setting = MODES[mode]
    server = subprocess.Popen([str(PROJECT_PY), __file__, "--serve", "--latency", str(latency),
                               "--n-mode", n_mode], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as home:
            source = ["--data", str(data)] if data else ["--sample"]
            command = [str(MEDQ), "eval", "--task", "medqa", *source, "--limit", str(limit),
                       "--model", "openai/bench", "--base-url", base_url, "--strategy",
                       STRATEGY, "--concurrency", "32", "--n-per-request", setting]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MEDQ_"))}
            env.update(MEDQ_HOME=home, OPENAI_API_KEY="dummy", HF_HUB_OFFLINE="1", NO_COLOR="1")
            start = time.perf_counter()
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                assert proc.stderr is not None
                raise RuntimeError(f"{mode}: medq eval failed: {proc.stderr.read().decode()}")
            if proc.stderr is not None:
                proc.stderr.close()
        with urllib.request.urlopen(base_url.removesuffix("/v1") + "/_bench/stats") as reply:
            stats = json.load(reply)
    finally:
        server.terminate()
        server.wait(10)
    return {"mode": mode, "latency_s": latency, "requests": stats["chat"],
            "samples_asked": stats["samples"], "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="questions (default 300)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latencies", default="0,0.2", help="server seconds per request")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--n-mode", default="serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.latency, args.n_mode)
        return
    data = args.data if args.data.is_file() else None
    items = args.limit if data else min(args.limit, 50)
    load = os.getloadavg()
    runs = []
    for latency in (float(x) for x in args.latencies.split(",")):
        for _ in range(args.repeats):
            for mode in MODES:  # interleaved: A, B, C, A, B, C, ...
                runs.append(measure(mode, latency, data, items))
                print(f"{mode:>5} @ {latency * 1000:.0f} ms: {runs[-1]['requests']} requests, "
                      f"{runs[-1]['wall_s']:.2f} s wall, {runs[-1]['cpu_s']:.2f} CPU-s",
                      file=sys.stderr)
    rows = []
    for latency in sorted({r["latency_s"] for r in runs}):
        for mode in MODES:
            mine = [r for r in runs if r["mode"] == mode and r["latency_s"] == latency]
            requests = statistics.median(r["requests"] for r in mine)
            rows.append({"mode": mode, "latency_ms": latency * 1000,
                         "requests_per_item": requests / items,
                         "wall_s": statistics.median(r["wall_s"] for r in mine),
                         "wall_range": (min(r["wall_s"] for r in mine),
                                        max(r["wall_s"] for r in mine)),
                         "cpu_s": statistics.median(r["cpu_s"] for r in mine),
                         "cpu_range": (min(r["cpu_s"] for r in mine),
                                       max(r["cpu_s"] for r in mine))})
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "sampling_n.json").write_text(json.dumps(
        {"items": items, "data": str(data or "bundled sample"), "strategy": STRATEGY,
         "loadavg_at_start": load, "rows": rows, "runs": runs}, indent=2))
    print(f"SC n=5 (base cot), {items} MedQA items, 32 in flight, median of {args.repeats} "
          f"(load {load[0]:.1f} at start)\n")
    print("| server latency | mode | requests / item | wall s (range) | CPU s (range) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['latency_ms']:.0f} ms | {r['mode']} | {r['requests_per_item']:.2f} | "
              f"{r['wall_s']:.2f} ({r['wall_range'][0]:.2f}–{r['wall_range'][1]:.2f}) | "
              f"{r['cpu_s']:.2f} ({r['cpu_range'][0]:.2f}–{r['cpu_range'][1]:.2f}) |")


if __name__ == "__main__":
    main()
