"""Probe generation at scale: every probe over 10,000 real MedQA items. Target: ≤ 1 s each.

Items are MedQA-USMLE test questions (4 options) from ``../shared/data/medqa_usmle`` when
present, else the bundled 50-item sample, cycled to 10,000 with distinct IDs. Each probe is
timed through `apply_probes` (transform, letter maps, IDs, metadata), and separately the
content hash of the probed items that enters the run identity (`probe_task`).
``drugnames`` needs RABBITS' mapping (``../shared/data/rabbits``) and is skipped without it.

    .venv/bin/python bench/bench_probes.py [--items 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

from medq.probes import apply_probes
from medq.runner import data_hash
from medq.tasks.base import load_task
from medq.types import Question

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RABBITS = SHARED / "rabbits" / "generic_to_brand.csv"


def items(n: int) -> tuple[list[Question], str]:
    if (SHARED / "medqa_usmle").is_dir():
        base, source = load_task("medqa", SHARED / "medqa_usmle").questions, "MedQA test"
    else:
        base, source = load_task("medqa", sample=True).questions, "MedQA bundled sample"
    out = [replace(base[i % len(base)], id=f"{base[i % len(base)].id}-{i // len(base)}")
           for i in range(n)]
    return out, f"{source} ({len(base):,} distinct items)"


def timed(action: object, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of `action` (CPU time: this process only, so a busy
    shared machine inflates it far less than the wall clock)."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()  # type: ignore[operator]
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def identity_hash(questions: list[Question]) -> str:
    """The probed items' hash as `probe_task` computes it (collector paused likewise)."""
    import gc

    gc.disable()
    try:
        return data_hash(questions)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    questions, source = items(args.items)
    specs = ["permute:mode=cyclic", "permute:mode=random,k=3", "permute:gold_at=D",
             "permute:mode=reverse", "bias:kind=confirmation", "bias:kind=false_consensus",
             "bias:kind=recency,mitigation=few_shot", "nota", "nota:mode=add_distractor",
             "mask:stem=0.5", "mask:stem=1.0"]
    if RABBITS.is_file():
        specs.append(f"drugnames:mapping={RABBITS}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f}; items: {args.items:,} from {source}; median of "
          f"{args.repeats}\n")
    print("| probe | items out | variants | generate: CPU s (wall) | identity hash: CPU s "
          "(wall) | total CPU s |")
    print("|---|--:|--:|--:|--:|--:|")
    worst = 0.0
    for spec in specs:
        gen_wall, gen_cpu, probed = timed(lambda s=spec: apply_probes(questions, [s], seed=0),
                                          args.repeats)
        hash_wall, hash_cpu, _ = timed(
            lambda p=probed: identity_hash(p.questions), args.repeats)  # type: ignore[attr-defined]
        counts = probed.counts[0]  # type: ignore[attr-defined]
        label = spec if not spec.startswith("drugnames") else "drugnames (RABBITS map)"
        worst = max(worst, gen_cpu + hash_cpu)
        print(f"| `{label}` | {counts['items_out']:,} | {counts['variants']:,} | "
              f"{gen_cpu:.3f} ({gen_wall:.3f}) | {hash_cpu:.3f} ({hash_wall:.3f}) | "
              f"{gen_cpu + hash_cpu:.3f} |")
    print(f"\nslowest probe, generation and identity hash: {worst:.3f} CPU s "
          f"(target ≤ 1 s: {'met' if worst <= 1 else 'MISSED'})")

if __name__ == "__main__":
    main()
