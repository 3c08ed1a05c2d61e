"""Core-engine performance: medq against its floors, lm-eval and inspect-ai, interleaved.

Every tool evaluates the same MedQA (US, 4-option) questions, one direct prompt per
question, 32 requests in flight, against `medq.testing.openai_server` in its own process on
127.0.0.1. Tools:

- **medq**, built as a wheel (``pip wheel . --no-deps``) and installed into its own venv
  (``bench/.work/venv-medq``, bytecode compiled by pip), run as its ``medq`` command;
- **bare floor**: an aiohttp loop, the same POSTs behind a semaphore (`http_floor`);
- **durable floor**: the same loop committing each finished item to SQLite, one transaction
  per item, medq's pragmas (so SIGKILL loses nothing);
- **lm-eval** (``lm-eval[api]``, torch 2.13.0 CPU pinned first) and **inspect-ai**, each
  in its own venv.

For each run we record the client's whole-process CPU seconds (user + sys from
``os.wait4``, so the server, a separate process, never counts), its wall seconds, and the
requests the server received (counted server-side, by route). Repeats are interleaved: in
round r every tool runs once, in an order rotated by r, so drift in the load of the shared
machine falls on every tool alike and the ratios stay fair. Every raw repeat is kept in
``bench/.work/http_eval.json``; tables give the median and the min–max spread.

Per-item cost: medq and both floors at 1,000 / 4,000 / 12,000 items (0 ms). MedQA's test
split has 1,273 questions, so past it the questions repeat, each copy with a distinct id
(by position) and its stem suffixed ``(copy k)`` so that no request is served from a cache;
a least-squares line a + b·n over every repeat gives fixed and per-item cost.

Usage::

    .venv/bin/python bench/bench_http_eval.py                # everything (~15 minutes)
    .venv/bin/python bench/bench_http_eval.py --skip-peers   # medq and the floors only
    .venv/bin/python bench/bench_http_eval.py --items 20 --repeats 1 --skip-peers --scale ""

`bench/run_issue19.py` runs this and the other issue-19 measurements in one go.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# bench/ is on sys.path when this runs as a script (and run_issue19 puts it there).
from http_setup import (
    DEFAULT_DATA,
    INSPECT_VENV,
    LMEVAL_VENV,
    MEDQ_VENV,
    MODEL,
    ROOT,
    WORK,
    Server,
    ensure_medq_venv,
    ensure_peer_venv,
    uptime,
    version_of,
    write_flat,
    write_inspect_task,
    write_items,
    write_lmeval_task,
)

MEDQ, BARE, DURABLE, LMEVAL, INSPECT = "medq", "bare floor", "durable floor", "lm-eval", \
    "inspect-ai"
PEERS = (LMEVAL, INSPECT)
FLOORS = (BARE, DURABLE)

TARGET_CPU_S = 0.75  # issue 19: harness CPU at 0 ms for 1,273 calls
TARGET_CPU_X_DURABLE = 1.5
TARGET_WALL_SLACK = 0.20
TARGET_HELP_S = 0.3


# -- measuring a subprocess ---------------------------------------------------------------


def run_measured(command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float,
                 log: Path) -> tuple[int, float, float, float]:
    """Run `command`; return (exit code, user s, sys s, wall s) of that process tree.

    ``os.wait4`` gives the rusage of exactly this child (with its own waited-for children),
    so nothing else this script or the server does is counted.
    """
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime, usage.ru_stime, wall


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "MEDQ_", "HF_", "INSPECT_", "BENCH_", "PYTHON"))}
    env.update(OPENAI_API_KEY="dummy", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass(frozen=True)
class Setup:
    """What the tools' command lines need: data files by item count, peers' task files."""

    data: dict[int, Path]
    concurrency: int
    lmeval_tasks: Path | None = None
    inspect_task: Path | None = None


Command = tuple[list[str], dict[str, str]]


def medq_command(base_url: str, scratch: Path, data: Path, concurrency: int, *extra: str,
                 model: str = f"openai/{MODEL}", strategy: str = "direct") -> Command:
    """`medq eval` from the wheel venv, with a fresh MEDQ_HOME."""
    command = [str(MEDQ_VENV / "bin" / "medq"), "eval", "--task", "medqa", "--model", model,
               "--strategy", strategy, "--concurrency", str(concurrency), "--data", str(data),
               "--base-url", base_url, *extra]
    return command, base_env(MEDQ_HOME=str(scratch / "medq-home"))


def floor_command(base_url: str, data: Path, concurrency: int, store: Path | None) -> Command:
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import http_floor; "
            "http_floor.main()")
    command = [str(MEDQ_VENV / "bin" / "python"), "-c", code, str(ROOT / "bench"), base_url,
               str(data), str(concurrency)]
    return command + ([str(store)] if store else []), base_env()


def tool_command(tool: str, base_url: str, scratch: Path, items: int, setup: Setup) -> Command:
    data, c = setup.data[items], setup.concurrency
    if tool == MEDQ:
        return medq_command(base_url, scratch, data, c)
    if tool == BARE:
        return floor_command(base_url, data, c, None)
    if tool == DURABLE:
        return floor_command(base_url, data, c, scratch / "floor.sqlite")
    if tool == LMEVAL:
        assert setup.lmeval_tasks is not None
        model_args = (f"model={MODEL},base_url={base_url}/chat/completions,"
                      f"num_concurrent={c},max_retries=3,tokenized_requests=False")
        command = [str(LMEVAL_VENV / "bin" / "lm_eval"), "run", "--model",
                   "local-chat-completions", "--tasks", "medq_bench_medqa",
                   "--apply_chat_template", "--model_args", model_args, "--include_path",
                   str(setup.lmeval_tasks)]
        # HF_HOME in the scratch dir: the datasets cache starts empty every time, as medq's.
        return command, base_env(HF_HOME=str(scratch / "hf"))
    if tool == INSPECT:
        assert setup.inspect_task is not None
        # inspect globs the task path and refuses absolute patterns; the cwd is ROOT.
        command = [str(INSPECT_VENV / "bin" / "inspect"), "eval",
                   str(setup.inspect_task.relative_to(ROOT)), "--model",
                   f"openai-api/bench/{MODEL}", "--max-connections", str(c), "--display",
                   "none", "--log-dir", str(scratch / "logs")]
        return command, base_env(BENCH_BASE_URL=base_url, BENCH_API_KEY="dummy")
    raise ValueError(tool)


HELP_COMMANDS: dict[str, list[list[str]]] = {
    MEDQ: [[str(MEDQ_VENV / "bin" / "medq"), "--help"],
           [str(MEDQ_VENV / "bin" / "medq"), "eval", "--help"]],
    LMEVAL: [[str(LMEVAL_VENV / "bin" / "lm_eval"), "--help"],
             [str(LMEVAL_VENV / "bin" / "lm_eval"), "run", "--help"]],
    INSPECT: [[str(INSPECT_VENV / "bin" / "inspect"), "--help"],
              [str(INSPECT_VENV / "bin" / "inspect"), "eval", "--help"]],
}


def ideal_wall(items: int, latency: float, concurrency: int) -> float:
    """Wall time of `items` requests at `latency`, `concurrency` at a time, and no overhead."""
    return -(-items // concurrency) * latency


def store_bytes_per_item(path: Path, items: int) -> float:
    """Size of the SQLite file at `path` after VACUUM, over `items`."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    finally:
        db.close()
    return float(pages * size) / items


@dataclass(frozen=True)
class Cell:
    """One thing measured repeatedly: a tool's eval at (latency, items), or a --help."""

    tool: str
    kind: str = "eval"  # "eval" or "help"
    latency: float = 0.0
    items: int = 0
    help_index: int = 0
    scale: bool = False  # one of the per-item cost points

    @property
    def label(self) -> str:
        if self.kind == "help":
            return " ".join(Path(w).name for w in HELP_COMMANDS[self.tool][self.help_index])
        scale = " (scale)" if self.scale else ""
        return f"{self.tool} {self.latency * 1000:.0f} ms {self.items} items{scale}"


def schedule(groups: Sequence[Sequence[Cell]], repeats: int) -> list[tuple[int, Cell]]:
    """Round r runs every group once, each group's cells rotated by r (A/B/A/B)."""
    order = []
    for r in range(repeats):
        for group in groups:
            k = r % len(group)
            order += [(r, cell) for cell in [*group[k:], *group[:k]]]
    return order


def run_cell(cell: Cell, setup: Setup, round_: int, keep_store: bool) -> dict[str, Any]:
    """Run one repeat of `cell`; return its raw record."""
    record: dict[str, Any] = {**asdict(cell), "label": cell.label, "round": round_,
                              "loadavg_1m": round(os.getloadavg()[0], 2)}
    log = WORK / f"log-{cell.tool.replace(' ', '-')}.txt"
    if cell.kind == "help":
        rc, user, sys_, wall = run_measured(HELP_COMMANDS[cell.tool][cell.help_index],
                                            base_env(), ROOT, 120, log)
        return record | {"rc": rc, "user_s": user, "sys_s": sys_, "cpu_s": user + sys_,
                         "wall_s": wall}
    with tempfile.TemporaryDirectory(prefix="medq-bench-", dir=WORK) as tmp:
        scratch = Path(tmp)
        with Server(cell.latency) as server:
            command, env = tool_command(cell.tool, server.base_url, scratch, cell.items, setup)
            before = server.stats()
            rc, user, sys_, wall = run_measured(command, env, ROOT, 900, log)
            stats = server.stats()
        record |= {"rc": rc, "user_s": user, "sys_s": sys_, "cpu_s": user + sys_,
                   "wall_s": wall, "requests": stats["chat"], "http_requests": stats["http"],
                   "server_cpu_s": stats["cpu_s"] - before["cpu_s"],
                   "ideal_wall_s": ideal_wall(cell.items, cell.latency, setup.concurrency)}
        if rc != 0:
            record["note"] = f"exit {rc}: " + log.read_text(errors="replace")[-400:]
            print(f"{cell.label} failed (exit {rc}); log {log}", file=sys.stderr)
        elif keep_store and cell.tool in (MEDQ, DURABLE):
            store = scratch / ("medq-home/medq.sqlite" if cell.tool == MEDQ else "floor.sqlite")
            record["store_bytes_per_item"] = store_bytes_per_item(store, cell.items)
    return record


@dataclass
class Summary:
    """Median and spread of one cell's repeats."""

    cell: Cell
    repeats: int
    cpu_s: float
    cpu_min: float
    cpu_max: float
    wall_s: float
    wall_min: float
    wall_max: float
    requests_min: int | None = None
    requests_max: int | None = None
    failed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def summarise(cell: Cell, raws: Sequence[Mapping[str, Any]]) -> Summary:
    cpu = [r["cpu_s"] for r in raws]
    wall = [r["wall_s"] for r in raws]
    reqs = [r["requests"] for r in raws if "requests" in r]
    extra = {k: raws[0][k] for k in ("store_bytes_per_item",) if k in raws[0]}
    return Summary(cell, len(raws), statistics.median(cpu), min(cpu), max(cpu),
                   statistics.median(wall), min(wall), max(wall),
                   min(reqs) if reqs else None, max(reqs) if reqs else None,
                   sum(1 for r in raws if r["rc"] != 0), extra)


def linear_fit(points: Sequence[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares (a, b) of y = a + b·n, or None with fewer than two distinct n."""
    if len({n for n, _ in points}) < 2:
        return None
    slope, intercept = statistics.linear_regression([float(n) for n, _ in points],
                                                    [y for _, y in points])
    return intercept, slope


# -- reporting ----------------------------------------------------------------------------


def spread(median: float, low: float, high: float, repeats: int) -> str:
    return f"{median:.2f}" if repeats == 1 else f"{median:.2f} ({low:.2f}–{high:.2f})"


def requests_text(s: Summary) -> str:
    if s.requests_min is None:
        return "—"
    text = str(s.requests_min) if s.requests_min == s.requests_max else \
        f"{s.requests_min}–{s.requests_max}"
    return text + (f" ({s.failed} failed)" if s.failed else "")


def paired_ratios(raws: Sequence[Mapping[str, Any]], cell: Cell, base: str) -> list[float]:
    """CPU of `cell` over the CPU of tool `base` at the same point, round by round."""
    def point(r: Mapping[str, Any], tool: str) -> bool:
        return (r["tool"] == tool and r["kind"] == "eval" and r["latency"] == cell.latency
                and r["items"] == cell.items and r["scale"] == cell.scale and r["rc"] == 0)

    base_cpu = {r["round"]: r["cpu_s"] for r in raws if point(r, base)}
    return [r["cpu_s"] / base_cpu[r["round"]] for r in raws
            if point(r, cell.tool) and r["round"] in base_cpu]


def ratio_text(ratios: Sequence[float]) -> str:
    if not ratios:
        return "—"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}×"
    return f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"


def main_table(summaries: Sequence[Summary], raws: Sequence[Mapping[str, Any]], items: int,
               concurrency: int) -> str:
    lines = ["| tool | server latency | requests (server) | CPU-s | CPU × durable floor, "
             "same round | wall-s | ideal wall-s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        ratio = ratio_text(paired_ratios(raws, s.cell, DURABLE))
        ideal = f"{ideal_wall(items, s.cell.latency, concurrency):.1f}" if s.cell.latency \
            else "—"
        lines.append(f"| {s.cell.tool} | {s.cell.latency * 1000:.0f} ms | {requests_text(s)} "
                     f"| {spread(s.cpu_s, s.cpu_min, s.cpu_max, s.repeats)} | {ratio} "
                     f"| {spread(s.wall_s, s.wall_min, s.wall_max, s.repeats)} | {ideal} |")
    return "\n".join(lines)


def scale_table(summaries: Sequence[Summary], raws: Sequence[Mapping[str, Any]],
                sizes: Sequence[int]) -> str:
    head = " | ".join(f"{n:,} items" for n in sizes)
    lines = [f"| tool | {head} | fit a + b·n (CPU) |",
             "|---|" + "---:|" * len(sizes) + "---|"]
    for tool in (MEDQ, BARE, DURABLE):
        row = [s for s in summaries if s.cell.tool == tool and s.cell.items in sizes]
        if not row:
            continue
        cells = [spread(s.cpu_s, s.cpu_min, s.cpu_max, s.repeats) for s in row]
        points = [(r["items"], r["cpu_s"]) for r in raws
                  if r["tool"] == tool and r["kind"] == "eval" and r.get("scale")
                  and r["rc"] == 0]
        fit = linear_fit(points)
        fitted = "—" if fit is None else f"{fit[0]:.2f} s + {fit[1] * 1000:.3f} ms·n"
        lines.append(f"| {tool} | " + " | ".join(cells) + f" | {fitted} |")
    return "\n".join(lines)


def startup_table(summaries: Sequence[Summary]) -> str:
    lines = ["| command | wall-s | CPU-s |", "|---|---:|---:|"]
    for s in summaries:
        lines.append(f"| `{s.cell.label}` | {spread(s.wall_s, s.wall_min, s.wall_max, s.repeats)}"
                     f" | {s.cpu_s:.2f} |")
    return "\n".join(lines)


def verdict(value: float, target: float, unit: str) -> str:
    """✓ when `value` meets `target` (at most), else the gap."""
    return "✓" if value <= target else f"gap {value - target:+.2f}{unit}"


def target_lines(summaries: Sequence[Summary], raws: Sequence[Mapping[str, Any]], items: int,
                 concurrency: int) -> list[str]:
    def find(tool: str, latency: float) -> Summary | None:
        return next((s for s in summaries if s.cell.kind == "eval" and s.cell.tool == tool
                     and s.cell.latency == latency and s.cell.items == items), None)

    out = []
    medq0, durable0 = find(MEDQ, 0.0), find(DURABLE, 0.0)
    if medq0 is not None:
        line = (f"- medq CPU at 0 ms, {items:,} items: {medq0.cpu_s:.2f} s (target ≤ "
                f"{TARGET_CPU_S}) {verdict(medq0.cpu_s, TARGET_CPU_S, ' s')}")
        ratios = paired_ratios(raws, medq0.cell, DURABLE)
        if durable0 is not None and ratios:
            x = statistics.median(ratios)
            line += (f"; {x:.2f}× the durable floor (its median {durable0.cpu_s:.2f} s; "
                     f"median of the rounds' ratios; target ≤ "
                     f"{TARGET_CPU_X_DURABLE}×) {verdict(x, TARGET_CPU_X_DURABLE, '×')}")
        out.append(line)
    for s in summaries:
        if s.cell.kind == "eval" and s.cell.tool == MEDQ and s.cell.latency and \
                s.cell.items == items:
            ideal = ideal_wall(items, s.cell.latency, concurrency)
            over = s.wall_s / ideal - 1
            ok = "✓" if over <= TARGET_WALL_SLACK else f"gap {over - TARGET_WALL_SLACK:+.0%}"
            out.append(f"- medq wall at {s.cell.latency * 1000:.0f} ms: {s.wall_s:.2f} s vs "
                       f"ideal {ideal:.2f} s ({over:+.0%}; target ≤ +20%) {ok}")
    for s in summaries:
        if s.cell.kind == "help" and s.cell.tool == MEDQ and s.cell.help_index == 0:
            out.append(f"- `medq --help`: {s.wall_s:.2f} s wall (target ≤ {TARGET_HELP_S}) "
                       f"{verdict(s.wall_s, TARGET_HELP_S, ' s')}")
    return out


# -- the run ------------------------------------------------------------------------------


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Set up every tool, run the interleaved rounds, and return the report."""
    WORK.mkdir(parents=True, exist_ok=True)
    tools = [MEDQ, BARE, DURABLE, LMEVAL, INSPECT] if args.tools is None else \
        args.tools.split(",")
    if args.skip_peers:
        tools = [t for t in tools if t not in PEERS]
    versions: dict[str, Any] = {"python": platform.python_version(),
                                "medq": ensure_medq_venv(),
                                "aiohttp (medq venv)": version_of(MEDQ_VENV, "aiohttp")}
    data = {n: write_items(args.data, n) for n in {args.items, *args.scale}}
    setup = Setup(data, args.concurrency)
    if LMEVAL in tools:
        ensure_peer_venv(LMEVAL_VENV)
        versions["lm-eval"] = version_of(LMEVAL_VENV, "lm_eval")
        setup = Setup(**{**asdict(setup), "lmeval_tasks": write_lmeval_task(
            write_flat(data[args.items]))})
    if INSPECT in tools:
        ensure_peer_venv(INSPECT_VENV)
        versions["inspect-ai"] = version_of(INSPECT_VENV, "inspect_ai")
        versions["openai (inspect venv)"] = version_of(INSPECT_VENV, "openai")
        setup = Setup(**{**asdict(setup), "inspect_task": write_inspect_task(
            write_flat(data[args.items]))})

    groups: list[list[Cell]] = [[Cell(t, latency=lat, items=args.items) for t in tools]
                                for lat in args.latency]
    scale_tools = [t for t in tools if t in (MEDQ, *FLOORS)]
    groups += [[Cell(t, items=n, scale=True) for t in scale_tools] for n in args.scale
               if scale_tools]
    helps = [Cell(t, "help", help_index=i) for t in tools if t in HELP_COMMANDS
             for i in range(len(HELP_COMMANDS[t]))] if args.startup else []
    if helps:
        groups.append(helps)
        for cell in helps:  # one untimed warm-up each (the OS file cache)
            run_cell(cell, setup, -1, False)

    uptime_before = uptime()
    print(f"load: {uptime_before}", file=sys.stderr, flush=True)
    raws: list[dict[str, Any]] = []
    for round_, cell in schedule(groups, args.repeats):
        raw = run_cell(cell, setup, round_, keep_store=round_ == 0)
        raws.append(raw)
        print(f"  r{round_} {cell.label:40} {raw['cpu_s']:6.2f} CPU-s {raw['wall_s']:6.2f} s "
              f"{raw.get('requests', '')} rc {raw['rc']} (load {raw['loadavg_1m']})",
              file=sys.stderr, flush=True)
    uptime_after = uptime()

    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "uptime_before": uptime_before, "uptime_after": uptime_after},
        "versions": versions,
        "data": str(args.data),
        "items": args.items,
        "scale_items": list(args.scale),
        "concurrency": args.concurrency,
        "repeats": args.repeats,
        "interleaving": "round r runs every group's cells once, rotated by r",
        "raw_repeats": raws,
    }
    return report | tabulate(report)


def tabulate(report: Mapping[str, Any]) -> dict[str, Any]:
    """Summaries, tables and targets from a report's raw repeats (so a run re-renders)."""
    raws, items, concurrency = report["raw_repeats"], report["items"], report["concurrency"]
    fields = ("tool", "kind", "latency", "items", "help_index", "scale")
    order = {t: i for i, t in enumerate((MEDQ, BARE, DURABLE, LMEVAL, INSPECT))}
    cells = sorted({Cell(**{k: r[k] for k in fields}) for r in raws},
                   key=lambda c: (c.kind, c.scale, c.latency, c.items, order[c.tool],
                                  c.help_index))
    summaries = [summarise(c, [r for r in raws if r["label"] == c.label]) for c in cells]
    main = [s for s in summaries if s.cell.kind == "eval" and not s.cell.scale]
    scaled = [s for s in summaries if s.cell.scale]
    startup = [s for s in summaries if s.cell.kind == "help"]
    store = {s.cell.tool: round(s.extra["store_bytes_per_item"]) for s in main
             if "store_bytes_per_item" in s.extra and s.cell.latency == 0}
    return {
        "summaries": [asdict(s) for s in summaries],
        "store_bytes_per_item_one_run": store,
        "tables": {"main": main_table(main, raws, items, concurrency),
                   "scale": scale_table(scaled, raws, report["scale_items"]) if scaled else "",
                   "startup": startup_table(startup) if startup else ""},
        "targets": target_lines(main + startup, raws, items, concurrency),
    }


def sizes(text: str) -> list[int]:
    try:
        return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            "--scale takes item counts, e.g. 1000,4000,12000") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--skip-peers", action="store_true", help="medq and the floors only")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MedQA 4-option JSONL")
    p.add_argument("--items", type=int, default=1273, help="items of the main table")
    p.add_argument("--scale", type=sizes, default=[1000, 4000, 12000],
                   help='item counts for the per-item cost (comma-separated; "" for none)')
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency", type=float, action="append", default=None,
                   help="server latency in seconds (repeatable; default 0 and 0.2)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    p.add_argument("--no-startup", dest="startup", action="store_false",
                   help="skip the --help start-up timings")
    p.add_argument("--tools", default=None,
                   help="comma-separated subset of: " + ", ".join([MEDQ, *FLOORS, *PEERS]))
    p.add_argument("--output", type=Path, default=WORK / "http_eval.json")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="re-render the tables of a saved run's raw repeats; run nothing")
    return p


def check(args: argparse.Namespace, p: argparse.ArgumentParser) -> argparse.Namespace:
    """Fill defaults that depend on other flags; one `p.error` line for bad values."""
    args.latency = args.latency or [0.0, 0.2]
    known = {MEDQ, *FLOORS, *PEERS}
    if args.tools is not None and set(args.tools.split(",")) - known:
        p.error(f"--tools takes a comma-separated subset of: {', '.join(sorted(known))}")
    if args.render is not None and not args.render.is_file():
        p.error(f"--render {args.render}: no such file")
    if not args.data.is_file():
        p.error(f"--data {args.data}: no such file")
    if args.items < 1 or args.repeats < 1 or any(n < 1 for n in args.scale):
        p.error("--items, --repeats and --scale take positive counts")
    return args


def report_markdown(report: Mapping[str, Any]) -> str:
    tables = report["tables"]
    parts = [tables["main"]]
    if tables["scale"]:
        parts += ["", "CPU-s as items grow (0 ms):", "", tables["scale"]]
    if tables["startup"]:
        parts += ["", "Start-up:", "", tables["startup"]]
    if report["store_bytes_per_item_one_run"]:
        parts += ["", "Store bytes per item (one run, VACUUMed): " + ", ".join(
            f"{k} {v:,}" for k, v in report["store_bytes_per_item_one_run"].items())]
    parts += ["", *report["targets"]]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = check(p.parse_args(argv), p)
    if args.render:
        saved = json.loads(args.render.read_text())
        print(report_markdown(saved | tabulate(saved)))
        return
    report = run_bench(args)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(report_markdown(report))
    print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
