"""MediQ harness costs: medq's own overhead per dialogue turn, and calls per item.

Li et al., NeurIPS 2024 (MediQ) interactive diagnosis, run by `mediq` over the iMedQA
cases (the 1,272 dev cases from ``../shared/data/mediq`` when present, else the 20 of
the bundled sample) against an instant scripted consultation: the expert
(`tests/mediq/scripted_consultation.py`) is unconfident until it has asked k questions,
then answers; the ``factselect`` patient returns the first fact. Each configuration runs in
a fresh store (no cache hits). Reported per configuration:

- **calls/item** (expert, patient), checked item by item against the design: with the
  defaults (``abstain=scale``, ``self_consistency=1``, intermediate choices) a question
  costs 4 calls (rating, choice, question, patient) and the final answer 2, so 4k + 2; at
  the 30-question limit 4 * 30 + 1 (the forced answer is one choice call); a case with no
  facts (3 of the dev cases) has a patient that refuses without a call — PASS / FAIL;
- **overhead/turn**: the CPU time of the whole `evaluate` (task loading, prompts, cache
  look-ups, SQLite writes, reply parsing, the patient's fact matching, the reader) minus
  the CPU time spent inside the scripted model, divided by the questions asked: a
  conservative figure, since each item's final answer and set-up are charged to its turns
  (target < 1 ms). CPU, not wall: the machine is shared, and its other jobs' load would
  otherwise be charged to medq (wall is reported beside it);
- **strategy/turn**: the same for the strategy alone (mediq, patient, reader) on a bare
  model, without the store: what is MediQ's and what is the call log's;
- **overhead/call**: the evaluate figure per call;
- **rescore ms/item**: `medq rescore` of the run (no calls), per item.

Usage::

    .venv/bin/python bench/bench_mediq.py                # ~1 min on the 1,272 dev cases
    .venv/bin/python bench/bench_mediq.py --limit 100    # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from medq.registry import strategies
from medq.runner import EvalSpec, evaluate, rescore
from medq.store import Store
from medq.strategies.base import build_strategy
from medq.tasks import load_task
from medq.testing.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mediq"))
from scripted_consultation import consultation, scripted_responder  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "mediq"
# (label, strategy, questions asked before the expert is confident: None = never)
CONFIGS = (
    ("defaults, answers at once", "mediq", 0),
    ("defaults, 2 questions", "mediq", 2),
    ("defaults, 5 questions", "mediq", 5),
    ("defaults, never confident (timeout)", "mediq", None),
    ("basic, 5 questions", "mediq(abstain=basic)", 5),
    ("self_consistency=5, 5 questions", "mediq(self_consistency=5)", 5),
)


class TimedModel(ScriptedModel):
    """A scripted model that also counts the CPU time spent inside it."""

    cpu_s = 0.0

    async def complete(self, request):  # type: ignore[no-untyped-def]
        started = time.process_time()
        try:
            return await super().complete(request)  # no await inside at zero latency
        finally:
            self.cpu_s += time.process_time() - started


@dataclass
class Row:
    label: str
    strategy: str
    items: int
    turns: float
    calls: float
    expert: float
    patient: float
    overhead_turn_ms: float
    wall_turn_ms: float
    strategy_turn_ms: float
    overhead_call_ms: float
    rescore_ms: float
    design: str


def expected_calls(strategy: str, asked: int | None, patient: int) -> int | None:
    """Calls per item by design (None where no closed form is checked); `patient` is 1,
    or 0 for a case without facts, whose patient refuses without a call."""
    if strategy == "mediq":
        return (3 + patient) * 30 + 1 if asked is None else (3 + patient) * asked + 2
    if strategy == "mediq(abstain=basic)" and asked is not None:
        return (2 + patient) * asked + 1  # basic reply, choice, patient; one basic reply
    if strategy == "mediq(self_consistency=5)" and asked is not None:
        # 5 ratings + choice + question + patient per question; 5 ratings + choice
        return (7 + patient) * asked + 6
    return None


def strategy_alone(strategy: str, asked: int | None, spec_args: dict) -> float:
    """CPU seconds of the strategy alone over the items, the model's own excluded."""
    task = load_task("imedqa", spec_args.get("data"), sample=spec_args.get("sample", False))
    questions = task.questions[: spec_args["limit"]] if spec_args["limit"] else task.questions
    solve = build_strategy(strategy, seed=0)
    model = TimedModel(scripted_responder(consultation(ask=asked)))

    async def run() -> None:
        for question in questions:
            await solve(question, model)

    started = time.process_time()
    asyncio.run(run())
    return time.process_time() - started - model.cpu_s


def measure(label: str, strategy: str, asked: int | None, spec_args: dict) -> Row:
    with tempfile.TemporaryDirectory() as home:
        os.environ["MEDQ_HOME"] = home
        model = TimedModel(scripted_responder(consultation(ask=asked)))
        with Store() as store:
            started, cpu = time.perf_counter(), time.process_time()
            result = evaluate(EvalSpec("imedqa", "scripted/expert", strategy, **spec_args),
                              store=store, model=model, progress=False)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            samples = list(store.samples(result.run_id))
            started = time.perf_counter()
            rescore(result.run_id, store=store)
            rescored = time.perf_counter() - started
    n = len(samples)
    turns = max(sum(s.details["turns"] for s in samples), 1)
    calls = sum(s.calls for s in samples)
    facts = {s.item_id: int(bool(s.details["metadata"].get("facts"))) for s in samples}
    wanted = [expected_calls(strategy, asked, facts[s.item_id]) for s in samples]
    design = "n/a"
    if None not in wanted:
        wrong = [s.item_id for s, w in zip(samples, wanted, strict=True) if s.calls != w]
        design = "PASS" if not wrong else f"FAIL (items {', '.join(wrong[:3])})"
    alone = strategy_alone(strategy, asked, spec_args)
    return Row(label, strategy, n, turns / n if asked != 0 else 0.0, calls / n,
               sum(s.details["calls_by_role"]["expert"] for s in samples) / n,
               sum(s.details["calls_by_role"]["patient"] for s in samples) / n,
               1000 * (cpu - model.cpu_s) / turns, 1000 * (wall - model.busy_s) / turns,
               1000 * alone / turns, 1000 * (cpu - model.cpu_s) / calls,
               1000 * rescored / n, design)


def markdown(rows: list[Row]) -> str:
    lines = ["| configuration | spec | items | turns/item | calls/item | expert | patient | "
             "overhead CPU ms/turn | wall ms/turn | strategy alone ms/turn | "
             "overhead CPU ms/call | rescore ms/item | design |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        per_turn = "—" if r.turns == 0 else f"{r.overhead_turn_ms:.3f}"
        wall = "—" if r.turns == 0 else f"{r.wall_turn_ms:.3f}"
        alone = "—" if r.turns == 0 else f"{r.strategy_turn_ms:.3f}"
        lines.append(f"| {r.label} | `{r.strategy}` | {r.items} | {r.turns:.1f} | "
                     f"{r.calls:.1f} | {r.expert:.1f} | {r.patient:.1f} | {per_turn} | "
                     f"{wall} | {alone} | {r.overhead_call_ms:.3f} | {r.rescore_ms:.2f} | "
                     f"{r.design} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    args = parser.parse_args()
    spec_args: dict = {"limit": args.limit}
    if (DATA / "all_dev_good.jsonl").is_file():
        spec_args["data"] = str(DATA)
    else:
        spec_args["sample"] = True
    load_task("imedqa", spec_args.get("data"), sample=spec_args.get("sample", False))
    strategies.names()  # imports every module first, so no row is charged for them
    rows = [measure(label, strategy, asked, spec_args) for label, strategy, asked in CONFIGS]
    print(markdown(rows))
    print(f"\nload average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    return 0 if all(not r.design.startswith("FAIL") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
