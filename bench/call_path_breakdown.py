"""Where medq's per-item CPU goes: `medq eval --strategy direct` in-process, with CPU
accumulators around the steps of the per-call path (issue 19, item 1).

A loopback `medq.testing.openai_server` (0 ms) runs in its own process; this process runs
the real CLI (`medq.cli.main`) over the 1,273 MedQA (US, 4-option) test questions, 32 in
flight, with each step below wrapped by a `time.process_time` accumulator (about 1 µs a
call of overhead, so small steps read slightly high). `answer_items` is the whole answering
loop (event loop and HTTP included); what the listed steps do not cover is aiohttp, asyncio
and the coroutine layers between them. Steps that nest are listed separately (put_call runs
inside the live call, extraction inside answer_from)::

    .venv/bin/python bench/call_path_breakdown.py            # one run, a table
    .venv/bin/python bench/call_path_breakdown.py --repeats 3  # medians of 3
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")

STEPS = [  # (module or class path, attribute, label)
    ("medq.strategies.direct", "chat", "prompt: render the messages"),
    ("medq.strategies.direct", "generation_request", "prompt: the request"),
    ("medq.calls.CallLog", "key", "cache key (canonical JSON + SHA-256)"),
    ("medq.store.Store", "get_call", "cache lookup (SELECT)"),
    ("medq.models.openai_compat.OpenAICompatModel", "_body", "wire: request body"),
    ("medq.models.openai_compat.OpenAICompatModel", "_parse", "wire: parse the reply"),
    ("medq.calls", "completion_to_json", "completion -> stored JSON"),
    ("medq.calls", "completion_from_json", "stored JSON -> completion"),
    ("medq.store.Store", "put_call", "store the call (pending)"),
    ("medq.strategies.direct", "answer_from", "read the answer (all)"),
    ("medq.scoring.extract", "extract_choice", "  of which: extraction"),
    ("medq.runner", "sample_row", "the item's row"),
    ("medq.store.Store", "put_sample", "store the item (one transaction)"),
]


def _target(path: str) -> Any:
    import importlib

    module, _, rest = path.partition(":")
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(module)


def measure(base_url: str, data: Path) -> dict[str, Any]:
    """One in-process run; CPU seconds and calls per step."""
    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()

    def wrap(owner: Any, attr: str, label: str) -> None:
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start
                calls[label] += 1

        setattr(owner, attr, timed)

    started = time.process_time()
    import medq.cli
    import medq.runner

    imported = time.process_time() - started
    for path, attr, label in STEPS:
        wrap(_target(path), attr, label)
    loop = medq.runner.answer_items

    async def answer_items(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return await loop(*args, **kwargs)
        finally:
            spent["answer_items (the loop, all of it)"] += time.process_time() - start
            calls["answer_items (the loop, all of it)"] += 1

    medq.runner.answer_items = answer_items  # type: ignore[assignment]
    sys.argv = ["medq", "eval", "--task", "medqa", "--model", "openai/bench-model",
                "--strategy", "direct", "--concurrency", "32", "--data", str(data),
                "--base-url", base_url]
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        medq.cli.main()
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    return {"total": time.process_time(), "imports": imported, "spent": dict(spent),
            "calls": dict(calls)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--child", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import json

        print(json.dumps(measure(args.child, args.data)))
        return
    import json

    server = subprocess.Popen([sys.executable, "-m", "medq.testing.openai_server", "--port",
                               "0", "--latency", "0", "--responder", "letter"],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    runs = []
    try:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as home:
                env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_",
                                                                                "MEDQ_"))}
                env.update(MEDQ_HOME=home, OPENAI_API_KEY="dummy", NO_COLOR="1")
                out = subprocess.run([sys.executable, __file__, "--child", url, "--data",
                                      str(args.data)], env=env, capture_output=True,
                                     text=True, check=True).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        server.terminate()
    items = max(runs[0]["calls"].get("store the item (one transaction)", 1), 1)
    load = os.getloadavg()[0]
    print(f"{items} items, {args.repeats} run(s), load {load:.2f}; medians")
    print(f"process CPU {statistics.median(r['total'] for r in runs):.2f} s, of which "
          f"importing medq.cli {statistics.median(r['imports'] for r in runs):.2f} s")
    print("| step | calls | CPU-s | µs per item |")
    print("|---|---:|---:|---:|")
    labels = ["answer_items (the loop, all of it)"] + [label for _, _, label in STEPS]
    for label in labels:
        cpu = statistics.median(r["spent"].get(label, 0.0) for r in runs)
        n = statistics.median(r["calls"].get(label, 0) for r in runs)
        print(f"| {label} | {n:.0f} | {cpu:.3f} | {cpu / items * 1e6:.0f} |")


if __name__ == "__main__":
    main()
