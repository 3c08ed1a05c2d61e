"""Issue 19's measurements in one run, for BENCHMARKS.md.

1. `bench_http_eval`: medq (a built wheel) vs the bare floor vs the durable floor vs lm-eval
   vs inspect-ai, CPU and wall at 0 and 200 ms, interleaved repeats, per-item cost at
   1k / 4k / 12k items, start-up (raw repeats in ``bench/.work/http_eval.json``);
2. store bytes per item (`bench_store_size.py`, run in the wheel's venv);
3. a batch run: ``openai-batch/bench-model`` against `medq.testing.batch_server`'s fake
   (every HTTP request counted by route, wall and CPU), beside direct runs, interleaved;
4. self-consistency n=5 requests per item against a server that serves ``n`` and one that
   ignores it (medq's n-in-one-request is detected from what the server received: a
   request asking ``n`` > 1);
5. adaptive vs fixed concurrency under a rate limit, from ``bench/bench_concurrency.py``.

A measurement whose feature is not built prints ``not measured: <feature> not built``;
nothing is estimated. Usage::

    .venv/bin/python bench/run_issue19.py                      # everything (~25 minutes)
    .venv/bin/python bench/run_issue19.py --items 20 --repeats 1 --skip-peers --scale ""

Writes ``bench/.work/issue19.json`` (everything) and prints the markdown;
``--render bench/.work/issue19.json`` prints it again, the HTTP eval tables re-rendered from
the raw repeats in ``--output`` (``bench/.work/http_eval.json``), running nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http_eval as http  # noqa: E402
import http_setup  # noqa: E402

SC_N = 5
N_FLAG = "--n-per-request"  # passed as `auto` (its default) where `medq eval --help` has it
CONCURRENCY_BENCH = http_setup.ROOT / "bench" / "bench_concurrency.py"


def medq_run(kind: str, data: Path, items: int, concurrency: int, *, label: str,
             model: str = f"openai/{http_setup.MODEL}", strategy: str = "direct",
             extra: Sequence[str] = ()) -> dict[str, Any]:
    """One measured `medq eval` of `data` (`items` rows) against a fresh `kind` server."""
    log = http_setup.WORK / f"log-{label}.txt"
    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="medq-bench-", dir=http_setup.WORK) as tmp, \
            http_setup.Server(0.0, kind) as server:
        command, env = http.medq_command(server.base_url, Path(tmp), data, concurrency, *extra,
                                         model=model, strategy=strategy)
        before = server.stats()
        rc, user, sys_, wall = http.run_measured(command, env, http_setup.ROOT, 900, log)
        stats = server.stats()
    record = {"label": label, "kind": kind, "items": items, "rc": rc, "cpu_s": user + sys_,
              "wall_s": wall, "loadavg_1m": load, "command": command,
              "server_cpu_s": stats.pop("cpu_s") - before["cpu_s"], **stats}
    if rc != 0:
        record["note"] = log.read_text(errors="replace")[-600:]
        print(f"{label} failed (exit {rc}); see {log}", file=sys.stderr)
    print(f"  {label:28} {record['cpu_s']:6.2f} CPU-s {wall:6.2f} s, {stats['http']} HTTP "
          f"requests, rc {rc}", file=sys.stderr, flush=True)
    return record


def med(records: Sequence[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in records]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def batch_section(data: Path, items: int, repeats: int,
                  concurrency: int) -> tuple[dict[str, Any], str]:
    """Batch run vs direct run of the same items, interleaved."""
    raws: dict[str, list[dict[str, Any]]] = {"batch": [], "direct": []}
    for r in range(repeats):
        for which in (["batch", "direct"] if r % 2 == 0 else ["direct", "batch"]):
            if which == "batch":
                raws[which].append(medq_run("batch", data, items, concurrency, label="batch",
                                            model=f"openai-batch/{http_setup.MODEL}"))
            else:
                raws[which].append(medq_run("chat", data, items, concurrency,
                                                     label="direct"))
    b, d = raws["batch"][0], raws["direct"][0]
    routes = ", ".join(f"`{k}` {v}" for k, v in sorted(b["routes"].items()))
    ok = all(x["rc"] == 0 for x in raws["batch"] + raws["direct"])
    lines = [
        "| run | HTTP requests (server) | chat requests answered | CPU-s | wall-s |",
        "|---|---:|---:|---:|---:|",
        f"| `openai-batch/` | {b['http']} | {b['batch_lines']} (batch lines) "
        f"| {med(raws['batch'], 'cpu_s')} | {med(raws['batch'], 'wall_s')} |",
        f"| `openai/` (direct, 0 ms) | {d['http']} | {d['chat']} "
        f"| {med(raws['direct'], 'cpu_s')} | {med(raws['direct'], 'wall_s')} |",
        "",
        f"Batch requests by route: {routes}." + ("" if ok else " (a run failed: see JSON)"),
    ]
    return raws, "\n".join(lines)


def n_flag_available() -> bool:
    out = subprocess.run([str(http_setup.MEDQ_VENV / "bin" / "medq"), "eval", "--help"],
                         capture_output=True, text=True,
                         env=http.base_env(COLUMNS="200")).stdout
    return N_FLAG in out


def sc_section(data: Path, items: int, concurrency: int) -> tuple[dict[str, Any], str]:
    """Requests per item of self_consistency(n=5) with and without server `n` support."""
    extra = [N_FLAG, "auto"] if n_flag_available() else []
    strategy = f"self_consistency:n={SC_N}"
    runs = {kind: medq_run(kind, data, items, concurrency, strategy=strategy, extra=extra,
                           label=f"sc-{kind}") for kind in ("chat", "no-n")}
    with_n, without = runs["chat"], runs["no-n"]
    built = with_n["chat_with_n"] > 0
    lines = [
        "| server | requests per item | requests asking n > 1 | CPU-s | wall-s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in (("serves `n`", with_n), ("ignores `n`", without)):
        if name == "serves `n`" and not built:
            lines.append(f"| {name} | not measured: n in one request not built "
                         f"(medq sent {r['chat'] / items:.2f} requests per item, none asking "
                         f"n > 1) | 0 | — | — |")
            continue
        lines.append(f"| {name} | {r['chat'] / items:.2f} | {r['chat_with_n']} "
                     f"| {r['cpu_s']:.2f} | {r['wall_s']:.2f} |")
    failed = [k for k, r in runs.items() if r["rc"] != 0]
    note = f"\n\nFailed runs: {failed} (see JSON)." if failed else ""
    return {"flags": extra, "n_in_one_request_built": built, "runs": runs}, \
        "\n".join(lines) + note


def adaptive_section() -> tuple[dict[str, Any], str]:
    """Run bench/bench_concurrency.py where it exists; its stdout is the section."""
    if not CONCURRENCY_BENCH.exists():
        text = "not measured: adaptive concurrency (`--concurrency auto`) not built"
        return {"measured": False, "text": text}, text
    # The wheel's venv, as everything else here: it evaluates in-process through medq.
    done = subprocess.run([str(http_setup.MEDQ_VENV / "bin" / "python"), str(CONCURRENCY_BENCH)],
                          cwd=http_setup.ROOT, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        text = (f"not measured: {CONCURRENCY_BENCH.name} exited {done.returncode}: "
                f"{done.stderr.strip()[-300:]}")
        return {"measured": False, "text": text}, text
    return {"measured": True, "stdout": done.stdout}, done.stdout.strip()


def store_section(runs: int) -> tuple[dict[str, Any], str]:
    done = subprocess.run([str(http_setup.MEDQ_VENV / "bin" / "python"),
                           str(http_setup.ROOT / "bench" / "bench_store_size.py"), "--runs",
                           str(runs)], cwd=http_setup.ROOT, capture_output=True, text=True,
                          env=http.base_env())
    if done.returncode != 0:
        text = f"not measured: bench_store_size.py exited {done.returncode}"
        return {"stderr": done.stderr[-600:]}, text
    line = done.stdout.strip().splitlines()[-1]
    found = re.search(r"inline ([\d,]+) B/item, shared ([\d,]+) B/item", line)
    data: dict[str, Any] = {"line": line}
    if found:
        data |= {"inline": int(found[1].replace(",", "")),
                 "shared": int(found[2].replace(",", ""))}
    return data, line


def parser() -> argparse.ArgumentParser:
    p = http.parser()
    p.description = (__doc__ or "").split("\n\n")[0]
    p.add_argument("--batch-repeats", type=int, default=3)
    p.add_argument("--sc-items", type=int, default=200,
                   help="items of the self-consistency request count")
    p.add_argument("--store-runs", type=int, default=20)
    p.set_defaults(output=http_setup.WORK / "http_eval.json")
    return p


def render(saved: Path, raws: Path) -> str:
    """A saved run's markdown, its HTTP eval section re-rendered from the raw repeats."""
    report = json.loads(saved.read_text())
    bench = json.loads(raws.read_text())
    parts = report["markdown"].split("\n### ")
    head = parts[0].split("\n\n", 1)[0]  # "### HTTP eval engine"
    return "\n### ".join([f"{head}\n\n{http.report_markdown(bench | http.tabulate(bench))}",
                          *parts[1:]])


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = http.check(p.parse_args(argv), p)
    if args.render:
        print(render(args.render, args.output))
        return
    report: dict[str, Any] = {}
    bench = http.run_bench(args)
    args.output.write_text(json.dumps(bench, indent=2) + "\n")
    report["http_eval"] = {k: v for k, v in bench.items() if k != "raw_repeats"}
    sections = [("HTTP eval engine", http.report_markdown(bench))]
    print("store bytes ...", file=sys.stderr, flush=True)
    report["store"], text = store_section(args.store_runs)
    sections.append(("Store bytes per item", text))
    print("batch ...", file=sys.stderr, flush=True)
    data = http_setup.write_items(args.data, args.items)
    report["batch"], text = batch_section(data, args.items, args.batch_repeats,
                                          args.concurrency)
    sections.append(("Batch run", text))
    print("self-consistency ...", file=sys.stderr, flush=True)
    sc_items = min(args.sc_items, args.items)
    report["self_consistency"], text = sc_section(http_setup.write_items(args.data, sc_items),
                                                  sc_items, args.concurrency)
    sections.append((f"Self-consistency n={SC_N}", text))
    report["adaptive"], text = adaptive_section()
    sections.append(("Adaptive vs fixed concurrency under a rate limit", text))
    report["uptime_end"] = http_setup.uptime()
    markdown = "\n\n".join(f"### {title}\n\n{body}" for title, body in sections)
    markdown += (f"\n\nLoad: before `{bench['machine']['uptime_before']}`; end "
                 f"`{report['uptime_end']}`.")
    report["markdown"] = markdown
    out = http_setup.WORK / "issue19.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown)
    print(f"\nwrote {out} and {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
