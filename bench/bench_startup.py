"""Fixed cost (start-up) of `medq` commands: client CPU (user + sys from `os.wait4`) of
`--help`, `eval --help`, `runs`, `show last` and a one-item `eval --strategy direct`
against a loopback server, beside the durable floor (`http_floor.py`) on one item.

Each source tree is run as the console script runs it (``from medq._console import
main``, or ``medq.cli`` for a tree from before it), with its own ``PYTHONPATH``; trees and
commands are interleaved round by round, after one warm-up each (bytecode caches).
Cells: median (min–max) CPU-s. Raw repeats go to ``bench/.work/startup.json``::

    python bench/bench_startup.py --data US/4_options/phrases_no_exclude_test.jsonl \\
        --tree base=/tmp/base/src --tree new=src --repeats 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_s(cmd: list[str], env: dict[str, str]) -> float:
    """User + sys CPU seconds of one run of `cmd` (which must succeed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read() if proc.stderr else b""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[3:]} failed: {err.decode()[-500:]}")
    return usage.ru_utime + usage.ru_stime


def launcher(src: str) -> list[str]:
    module = "medq._console" if (Path(src) / "medq" / "_console.py").exists() else "medq.cli"
    return [sys.executable, "-c",
            f"import sys; sys.argv[0] = 'medq'; from {module} import main; sys.exit(main())"]


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "medq.testing.openai_server", "--port", "0", "--latency", "0",
         "--responder", "letter"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[],
                        help="NAME=SRC: a source tree to measure (default: this checkout)")
    parser.add_argument("--data", help="MedQA's 4-option test JSONL (default: the sample)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(HERE / ".work" / "startup.json"))
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(HERE.parent / "src")}
    server, url = start_server()
    try:
        data = ["--data", args.data] if args.data else ["--sample"]
        one = ["eval", "--task", "medqa", "--model", "openai/bench-model", "--strategy",
               "direct", *data, "--base-url", url, "--limit", "1"]
        commands = {"medq --help": ["--help"], "medq eval --help": ["eval", "--help"],
                    "medq runs": ["runs"], "medq show last": ["show", "last"],
                    "medq eval --limit 1": one}
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(OPENAI_API_KEY="dummy", NO_COLOR="1")
        home = tempfile.mkdtemp()
        work = Path(tempfile.mkdtemp())
        row = (Path(args.data).read_text(encoding="utf-8").splitlines()[0] if args.data else
               json.dumps({"question": "Q?", "options": {"A": "a", "B": "b", "C": "c",
                                                         "D": "d"}, "answer_idx": "A"}))
        (work / "one.jsonl").write_text(row + "\n", encoding="utf-8")

        def run(name: str, src: str) -> float:
            if name == "durable floor, 1 item":
                store = tempfile.mktemp(suffix=".sqlite", dir=work)
                code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import http_floor; "
                        "http_floor.main()")
                return cpu_s([sys.executable, "-c", code, url, str(work / "one.jsonl"), "32",
                              store], {**env, "PYTHONPATH": src})
            argv = commands[name]
            fresh = tempfile.mkdtemp() if argv is one else home
            return cpu_s([*launcher(src), *argv], {**env, "MEDQ_HOME": fresh, "PYTHONPATH": src})

        first = next(iter(trees.values()))
        cpu_s([*launcher(first), *one], {**env, "MEDQ_HOME": home, "PYTHONPATH": first})
        names = [*commands, "durable floor, 1 item"]
        cells = [(n, t) for n in names for t in trees if n in commands or t == next(iter(trees))]
        for name, tree in cells:  # warm-up: bytecode caches
            run(name, trees[tree])
        raw: dict[str, list[float]] = {f"{n} | {t}": [] for n, t in cells}
        load = [os.getloadavg()[0]]
        for r in range(args.repeats):
            order = cells[r % len(cells):] + cells[:r % len(cells)]
            for name, tree in order:
                raw[f"{name} | {tree}"].append(run(name, trees[tree]))
            load.append(os.getloadavg()[0])
    finally:
        server.terminate()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"trees": trees, "raw": raw, "load": load}, indent=1))
    print(f"| command | {' | '.join(trees)} |\n|---|{'---:|' * len(trees)}")
    for name in names:
        out = []
        for tree in trees:
            xs = raw.get(f"{name} | {tree}")
            out.append(f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})" if xs
                       else "—")
        print(f"| {name} | {' | '.join(out)} |")
    print(f"1-minute load: {min(load):.2f}–{max(load):.2f} (median {statistics.median(load):.2f})")


if __name__ == "__main__":
    main()
