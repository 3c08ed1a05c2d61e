"""Judge-path overhead: harness CPU per rubric criterion of a HealthBench run.

Evaluates HealthBench-format conversations with an instant scripted model and an instant
scripted judge (`medq.testing`) in a temporary MEDQ_HOME (a real SQLite store on disk),
and reports the process CPU time (`time.process_time`: user + sys of this process) spent
per criterion, minus the CPU spent inside the scripted models' own `complete` (their
`busy_s`), in three phases:

- **eval**: a fresh run: one model call per conversation, one judge call per criterion,
  each rendered, hashed, looked up, stored, validated and scored, the item stored (all of
  the run's harness CPU, divided by its criteria: an upper bound on the judge path's);
- **rescore**: `medq rescore` of the run: every criterion regraded from the store (cache
  look-ups, validation and scoring, no call).

The conversations are the 30 released examples of ``../shared/data/healthbench_sample``
(test use only; read here, never copied) repeated up to ``--items`` with fresh IDs and a
distinct first turn (so no judge call is a cache hit); without them, synthetic rows of the
same shape (12 criteria, ~1.5 kB conversations). Registries and the task module are
imported before timing. Target: the judge path adds at most 1 ms of harness CPU per
criterion.

Usage::

    .venv/bin/python bench/bench_judge.py               # 300 conversations, ~3,500 criteria
    .venv/bin/python bench/bench_judge.py --items 60    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SAMPLE = (Path(__file__).resolve().parents[2] / "shared" / "data" / "healthbench_sample"
          / "healthbench_oss_eval_first30.jsonl")


def rows(n: int) -> list[dict[str, Any]]:
    """`n` HealthBench rows: the released sample cycled with fresh IDs, or synthetic."""
    if SAMPLE.is_file():
        base = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    else:
        base = [{
            "prompt": [{"role": "user", "content": "A question about my health. " * 50}],
            "rubrics": [{"criterion": f"Mentions point {j}. " * 6, "points": 5 - j % 7,
                         "tags": ["axis:accuracy", "level:example"]} for j in range(12)],
            "example_tags": ["theme:global_health"],
        }]
    out = []
    for i in range(n):
        row = dict(base[i % len(base)])
        row["prompt_id"] = f"bench-{i}"
        first, *rest = row["prompt"]
        row["prompt"] = [{**first, "content": f"(conversation {i}) {first['content']}"},
                         *rest]
        out.append(row)
    return out


def cpu_phase(action: Any, models: list[Any]) -> tuple[float, Any]:
    """(harness CPU seconds, result) of `action()`, the models' own time subtracted."""
    busy = sum(m.busy_s for m in models)
    started = time.process_time()
    result = action()
    spent = time.process_time() - started
    return spent - (sum(m.busy_s for m in models) - busy), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="medq-bench-judge-")
    os.environ["MEDQ_HOME"] = home

    from medq import registry
    from medq.registry import models
    from medq.runner import EvalSpec, ModelRef, evaluate, rescore
    from medq.store import Store
    from medq.testing.judges import rubric_judge
    from medq.testing.scripted import ScriptedModel

    data = Path(home) / "2025-05-07-06-14-12_oss_eval.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows(args.items)), encoding="utf-8")
    criteria = sum(len(r["rubrics"]) for r in rows(args.items))
    built: list[ScriptedModel] = []

    @models.register("benchjudge")
    def benchjudge(name: str) -> ScriptedModel:
        judge = ScriptedModel(rubric_judge(lambda reply, criterion: len(criterion) % 2 == 0),
                              name=f"benchjudge/{name}")
        built.append(judge)
        return judge

    expert = ScriptedModel(lambda request: "Please see a clinician; drink fluids. " * 20,
                           name="scripted/expert")
    spec = EvalSpec("healthbench", "scripted/expert", "respond", data=str(data),
                    roles={"judge": ModelRef("benchjudge/j")})

    def run() -> Any:
        return evaluate(spec, model=expert, concurrency=args.concurrency, progress=False)

    registry.tasks.names(), registry.strategies.names(), registry.models.names()
    phases = {}
    spent, first = cpu_phase(run, [expert, *built])
    phases["eval"] = spent
    assert first.new_calls == args.items + criteria, first.new_calls
    with Store() as store:
        spent, regraded = cpu_phase(lambda: rescore(first.run_id, store=store), built)
    phases["rescore"] = spent
    assert regraded.summary["rescore"]["kept"] == {}, regraded.summary["rescore"]
    judge_calls = sum(len(m.calls) for m in built)
    print(f"medq judge path: {args.items} conversations, {criteria} criteria, "
          f"{judge_calls} judge calls, concurrency {args.concurrency}, python "
          f"{sys.version.split()[0]}")
    print(f"{'phase':<8} {'CPU s':>7} {'ms/criterion':>13}")
    for name, seconds in phases.items():
        print(f"{name:<8} {seconds:>7.2f} {1000 * seconds / criteria:>13.3f}")
    per = 1000 * phases["eval"] / criteria
    print(f"target <= 1 ms/criterion on a fresh eval: {'PASS' if per <= 1.0 else 'FAIL'} "
          f"({per:.3f} ms; score {first.summary['score']:.4f})")


if __name__ == "__main__":
    main()
