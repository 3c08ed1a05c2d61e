"""`medq serve` throughput and added latency, and its behaviour under upstream faults.

Three processes on 127.0.0.1: the upstream (`medq.testing.openai_server`, answering at
once), `medq serve` (the real command: uvicorn, with uvloop and httptools from the serve
extra), and this script as the load generator (aiohttp, closed loop: each client sends its
next request when the last one is answered). Every request asks a question no other asks,
so none is answered from medq's call cache, and every request goes through the whole path:
key check, limits, question parsing, the `direct` strategy through the call store, the
upstream call, the reply, the audit row.

Phases:

1. **upstream alone**: the clients call the upstream directly (the floor).
2. **through medq**: the same clients call medq's `direct` pipeline over that upstream.
3. **scripted**: medq's `direct` pipeline over the in-process `scripted/first` backend (no
   upstream network at all: medq's own cost).
4. **added latency, unloaded**: one client, requests one after another, through medq and
   directly; the difference of the percentiles is what medq adds to one request.
5. **faults**: a second upstream that fails 10% of attempts (HTTP 500, 503, a dropped
   connection or a malformed body, in turn), with `upstream_attempts = 2`: every request
   must be answered (200) or refused with a 503, never a 500, and the audit log must gain
   exactly one row per request.

Usage::

    .venv/bin/python bench/bench_serve.py                      # ~2 minutes
    .venv/bin/python bench/bench_serve.py --duration 5 --fault-duration 5   # smoke test

Results go to ``bench/.work/serve.json``; a markdown table goes to stdout. With 64 clients
in a closed loop, Little's law ties latency to throughput (mean latency = 64 / req/s), so
the loaded percentiles include the queue; phase 4 isolates medq's own added latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
FAULTS = ("500", "503", "drop", "malformed")
QUESTION = "Which letter comes first? ({tag})\nA. one\nB. two\nC. three\nD. four"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_upstream(port: int, fault_rate: float) -> None:
    """The upstream process: answers at once; with `fault_rate`, that share of attempts
    fails, kinds in turn (seeded, so runs are comparable)."""
    from medq.testing.openai_server import FakeOpenAIServer

    class Faulty(FakeOpenAIServer):
        rng = random.Random(0)
        turn = 0

        def _scheduled_fault(self, raw: bytes) -> str | None:
            if fault_rate and self.rng.random() < fault_rate:
                Faulty.turn += 1
                return FAULTS[Faulty.turn % len(FAULTS)]
            return None

    server = Faulty(port=port)
    server.requests = _Forgetful()  # a long run must not keep every request in memory

    async def serve() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        async with server:
            print(server.base_url, flush=True)
            await done.wait()

    asyncio.run(serve())


class _Forgetful(list):  # type: ignore[type-arg]
    """A request log that counts instead of keeping (the fake server appends to it)."""

    def append(self, item: Any) -> None:
        pass


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_http(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if "401" in str(exc) or "404" in str(exc):
                return
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited: {process.stdout.read()}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(url) from None
            time.sleep(0.1)


async def load(url: str, body: Any, clients: int, duration: float | None = None,
               count: int | None = None, token: str | None = None) -> dict[str, Any]:
    """`clients` closed-loop clients for `duration` seconds (or `count` requests in all);
    `body(tag)` makes each request's JSON. Returns statuses, latencies (ms) and req/s."""
    import aiohttp

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    server_ms: list[float] = []
    sent = 0
    started = time.perf_counter()
    stop_at = started + duration if duration else None
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def client(n: int) -> None:
            nonlocal sent
            i = 0
            while True:
                if stop_at is not None and time.perf_counter() >= stop_at:
                    return
                if count is not None and sent >= count:
                    return
                sent += 1
                i += 1
                payload = json.dumps(body(f"{n}-{i}-{time.perf_counter_ns()}"))
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=payload) as response:
                        data = await response.read()
                        status = response.status
                except aiohttp.ClientError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(1000 * (time.perf_counter() - t0))
                statuses[status] += 1
                if status == 200 and b'"medq"' in data:
                    server_ms.append(json.loads(data)["medq"]["latency_ms"])

        await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - started
    return {"requests": sum(statuses.values()), "errors": dict(errors),
            "statuses": dict(statuses), "wall_s": wall,
            "rps": sum(statuses.values()) / wall, **percentiles(latencies, "latency"),
            **percentiles(server_ms, "server")}


def percentiles(values: list[float], name: str) -> dict[str, float | None]:
    if not values:
        return {f"{name}_p50_ms": None, f"{name}_p99_ms": None}
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 \
        else [ordered[0]] * 99
    return {f"{name}_p50_ms": round(cut[49], 3), f"{name}_p99_ms": round(cut[98], 3)}


def chat(model: str) -> Any:
    return lambda tag: {"model": model,
                        "messages": [{"role": "user", "content": QUESTION.format(tag=tag)}]}


def upstream_chat(tag: str) -> dict[str, Any]:
    """What medq's `direct` strategy sends, roughly: a system and a user message."""
    return {"model": "m", "temperature": 0, "seed": 0, "messages": [
        {"role": "system", "content": "You are a medical expert."},
        {"role": "user", "content": QUESTION.format(tag=tag) + "\nAnswer with the letter."}]}


def audit_rows(home: Path) -> int:
    import sqlite3

    with sqlite3.connect(home / "serve" / "audit.sqlite") as db:
        return int(db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per loaded phase")
    parser.add_argument("--unloaded", type=int, default=300, help="requests, one at a time")
    parser.add_argument("--fault-clients", type=int, default=200)
    parser.add_argument("--fault-duration", type=float, default=30.0)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--upstream-fault-rate", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream is not None:
        run_upstream(args.upstream, args.upstream_fault_rate)
        return

    WORK.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="serve-", dir=WORK))
    env = {**os.environ, "MEDQ_HOME": str(home)}
    python = sys.executable
    me = str(Path(__file__).resolve())
    processes: list[subprocess.Popen[str]] = []
    try:
        ports = {"upstream": free_port(), "faulty": free_port(), "serve": free_port()}
        upstream = spawn([python, me, "--upstream", str(ports["upstream"])], env)
        faulty = spawn([python, me, "--upstream", str(ports["faulty"]),
                        "--upstream-fault-rate", str(args.fault_rate)], env)
        processes += [upstream, faulty]
        up_url = f"http://127.0.0.1:{ports['upstream']}/v1"
        fault_url = f"http://127.0.0.1:{ports['faulty']}/v1"
        for port, process in ((ports["upstream"], upstream), (ports["faulty"], faulty)):
            wait_http(f"http://127.0.0.1:{port}/v1/models", process)
        config = home / "serve.toml"
        config.write_text(f"""\
[limits]
requests_per_minute = 100000000
tokens_per_minute = 100000000000
concurrent = 100000

[[pipeline]]
name = "direct"
model = "openai/m"
base_url = "{up_url}"
strategy = "direct"
concurrency = 1024

[[pipeline]]
name = "scripted"
model = "scripted/first"
strategy = "direct"
concurrency = 1024

[[pipeline]]
name = "faulty"
model = "openai/m"
base_url = "{fault_url}"
strategy = "direct"
upstream_attempts = 2
concurrency = 1024
""")
        made = subprocess.run([python, "-m", "medq.cli", "serve", "keys", "create", "--name",
                               "bench", "--scopes", "pipeline:*"], env=env, check=True,
                              capture_output=True, text=True)
        token = made.stdout.strip().splitlines()[-1]
        serve = spawn([python, "-m", "medq.cli", "serve", "--config", str(config), "--port",
                       str(ports["serve"])], env)
        processes.append(serve)
        wait_http(f"http://127.0.0.1:{ports['serve']}/health", serve)
        serve_url = f"http://127.0.0.1:{ports['serve']}/v1/chat/completions"
        direct_url = f"{up_url}/chat/completions"
        results: dict[str, Any] = {}

        async def phases() -> None:
            # Warm-up: connections, first-call paths.
            await load(serve_url, chat("direct"), 8, count=200, token=token)
            await load(direct_url, upstream_chat, 8, count=200)
            phase = [
                ("upstream alone", direct_url, upstream_chat, None),
                ("through medq (HTTP upstream)", serve_url, chat("direct"), token),
                ("through medq (scripted backend)", serve_url, chat("scripted"), token),
            ]
            for name, url, body, key in phase:
                cpu = cpu_seconds(serve.pid)
                up_cpu = cpu_seconds(upstream.pid)
                out = await load(url, body, args.clients, duration=args.duration, token=key)
                out["serve_cpu_ms_per_request"] = round(
                    1000 * (cpu_seconds(serve.pid) - cpu) / max(out["requests"], 1), 3)
                out["upstream_cpu_ms_per_request"] = round(
                    1000 * (cpu_seconds(upstream.pid) - up_cpu) / max(out["requests"], 1), 3)
                results[name] = out
            results["unloaded through medq"] = await load(
                serve_url, chat("direct"), 1, count=args.unloaded, token=token)
            results["unloaded upstream alone"] = await load(
                direct_url, upstream_chat, 1, count=args.unloaded)
            before = audit_rows(home)
            out = await load(serve_url, chat("faulty"), args.fault_clients,
                             duration=args.fault_duration, token=token)
            out["audit_rows_added"] = audit_rows(home) - before
            results["faults"] = out

        asyncio.run(phases())
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average": os.getloadavg(),
                          "clients": args.clients, "duration_s": args.duration,
                          "fault_clients": args.fault_clients,
                          "fault_duration_s": args.fault_duration,
                          "fault_rate": args.fault_rate}
    (WORK / "serve.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(home, ignore_errors=True)
    report(results)


def report(r: dict[str, Any]) -> None:
    print(f"| phase ({r['machine']['clients']} clients) | req/s | p50 ms | p99 ms | "
          "server p50 / p99 ms | medq CPU ms/req | statuses |")
    print("|---|---|---|---|---|---|---|")
    for name in ("upstream alone", "through medq (HTTP upstream)",
                 "through medq (scripted backend)", "unloaded upstream alone",
                 "unloaded through medq"):
        p = r[name]
        server = "—" if p["server_p50_ms"] is None else \
            f"{p['server_p50_ms']:.2f} / {p['server_p99_ms']:.2f}"
        print(f"| {name} | {p['rps']:.0f} | {p['latency_p50_ms']:.2f} | "
              f"{p['latency_p99_ms']:.2f} | {server} | "
              f"{p.get('serve_cpu_ms_per_request', '—')} | {p['statuses']} |")
    a, b = r["unloaded through medq"], r["unloaded upstream alone"]
    print(f"\nadded latency, one request at a time: p50 "
          f"{a['latency_p50_ms'] - b['latency_p50_ms']:.2f} ms, p99 "
          f"{a['latency_p99_ms'] - b['latency_p99_ms']:.2f} ms")
    f = r["faults"]
    print(f"faults ({r['machine']['fault_rate']:.0%} of upstream attempts, "
          f"{r['machine']['fault_clients']} clients, {f['wall_s']:.0f} s): {f['requests']} "
          f"requests, statuses {f['statuses']}, client errors {f['errors']}, audit rows added "
          f"{f['audit_rows_added']}")


if __name__ == "__main__":
    main()
