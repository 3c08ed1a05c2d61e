"""`medq compare` at scale: 10 runs × 4,183 items (MedMCQA dev size), all 45 pairs.

Builds synthetic runs in a temporary store (items of varying difficulty, so runs are
correlated as real ones are; a few invalid answers and errors), then times
`compare_runs` end to end, reading the store included, at 10,000 paired-bootstrap
resamples per pair. Target: ≤ 3 s.

    .venv/bin/python bench/bench_compare.py [--runs 10] [--items 4183] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from medq.compare import compare_runs, render_comparison
from medq.store import Store


def build_store(path: Path, runs: int, items: int, seed: int) -> list[str]:
    """`runs` synthetic runs over the same `items` questions; returns their IDs."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1.5, items)
    gold = rng.choice(list("ABCD"), items)
    ids = []
    with Store(path) as store:
        for r in range(runs):
            run_id = f"medmcqa-bench{r:02d}-{r:08x}"
            ids.append(run_id)
            skill = 0.2 + 0.15 * r
            store.create_or_resume_run(run_id, task="medmcqa", model=f"bench/model-{r}",
                                       strategy="direct", spec={}, info={"n_items": items})
            p_right = 1 / (1 + np.exp(-(skill - difficulty)))
            right = rng.random(items) < p_right
            status = np.where(rng.random(items) < 0.01, "invalid", "ok")
            status = np.where(rng.random(items) < 0.003, "error", status)
            for i in range(items):
                ok = status[i] == "ok"
                store.put_sample(run_id, {
                    "item_id": f"medmcqa-dev-{i:05d}", "position": i, "status": status[i],
                    "choice": (gold[i] if right[i] else "A" if gold[i] != "A" else "B")
                    if ok else None,
                    "gold": gold[i], "correct": int(right[i]) if ok else None, "truncated": 0,
                    "confidence": float(rng.uniform(0.25, 1.0)) if ok else None,
                    "reason": None, "response": "Answer: " + gold[i],
                    "details": {"metadata": {"subject": f"subject-{i % 21}",
                                             "topic": f"topic-{i % 97}"}},
                    "calls": 1, "new_calls": 1, "prompt_tokens": 180, "completion_tokens": 4,
                    "call_keys": [f"{r:02d}{i:060d}"],
                })
            store.finish_run(run_id, "finished", 0.0)
    return ids


def timed(action: object, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--items", type=int, default=4183)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "medq.sqlite"  # MEDQ_HOME=tmp for the CLI run below
        start = time.perf_counter()
        ids = build_store(path, args.runs, args.items, seed=0)
        build_s = time.perf_counter() - start

        with Store(path) as store:
            end_to_end, comparison = timed(
                lambda: compare_runs(store, ids, n_resamples=args.resamples), args.repeats
            )
            read_s, _ = timed(lambda: [list(store.samples(r)) for r in ids], args.repeats)
            render_s, text = timed(lambda: render_comparison(comparison, "text"), args.repeats)
        # A fresh process' view: open the store, compare, render (imports already done).
        fresh_s, _ = timed(
            lambda: _fresh(path, ids, args.resamples), max(1, args.repeats // 2)
        )
        cli_s, _ = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "medq.cli", "compare", *ids, "--resamples",
                 str(args.resamples)],
                env={**os.environ, "MEDQ_HOME": tmp}, check=True, capture_output=True,
            ),
            3,
        )

    pairs = len(comparison.pairs)  # type: ignore[attr-defined]
    verdicts = [p.verdict for p in comparison.pairs]  # type: ignore[attr-defined]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print(f"store built in {build_s:.1f} s ({args.runs} runs × {args.items:,} items); "
          f"median of {args.repeats} repeats below\n")
    print("| step | seconds |")
    print("|---|--:|")
    print(f"| read {args.runs} runs from the store ({args.runs * args.items:,} rows) "
          f"| {read_s:.3f} |")
    print(f"| compare_runs: {pairs} pairs × {args.resamples:,} resamples, store read included "
          f"| {end_to_end:.3f} |")
    print("| difference: statistics (McNemar, bootstrap, Holm), approx. "
          f"| {end_to_end - read_s:.3f} |")
    print(f"| render as text | {render_s:.3f} |")
    print(f"| open store + compare_runs + render | {fresh_s:.3f} |")
    print(f"| `medq compare` of {args.runs} runs, new process (start-up and imports included) "
          f"| {cli_s:.3f} |")
    print(f"\nverdicts: {verdicts.count('win')} win, {verdicts.count('tie')} tie, "
          f"{verdicts.count('loss')} loss; text output {len(str(text)):,} characters")


def _fresh(path: Path, ids: list[str], resamples: int) -> str:
    with Store(path) as store:
        return render_comparison(compare_runs(store, ids, n_resamples=resamples), "text")


if __name__ == "__main__":
    main()
