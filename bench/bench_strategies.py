"""Strategy costs: calls and tokens per item, medq's own overhead, and shared prompt prefixes.

For every registered strategy, evaluate the bundled MedQA sample (50 items) with an
instant scripted model (`medq.testing.scripted.ScriptedModel`) in a temporary MEDQ_HOME
and report, per strategy:

- **calls/item** and **prompt / completion tokens per item**, from the stored samples
  (the scripted model counts whitespace-separated words as tokens), checked against the
  papers' designs where one is fixed (Med-PaLM 2 ensemble refinement at defaults: 44;
  self-consistency n=5: 5; Medprompt with 5 shuffles: 5 generations; verification of
  choice: options + 1; MedAgentsBench multi-persona: 7; MedAgents when all experts agree
  at once: 18; self-refine approved at the first review: 2) — PASS / FAIL per row;
- **overhead/call**: wall time of the whole `evaluate` call (task loading, strategy logic,
  prompt rendering, cache look-ups, SQLite writes) minus the time spent inside the model,
  divided by the calls made — target below 1 ms; kNN strategies embed with a hashed
  bag-of-words stand-in (`HashEncoder`), since a real encoder's time is model work;
- **prefix shared across items**: the fraction of prompt characters (all messages,
  serialised in order) that each call shares, as a byte-identical prefix, with some call
  of *another* item of the same run: what server-side prefix caching (vLLM, SGLang) can
  reuse between items. **Prefix shared with any call** also counts calls of the same item
  (the 33 identical stage-two prompts of ensemble refinement, the per-option
  verifications), which the same caches reuse within an item.

Strategies that need something the scripted model cannot give (log-probabilities, an
encoder or an exemplar pool) are skipped with the reason.

Usage::

    .venv/bin/python bench/bench_strategies.py            # all strategies, ~10 s
    .venv/bin/python bench/bench_strategies.py --limit 10 # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medq.registry import strategies
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.tasks.base import load_task
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest

# Spec to run per strategy when its defaults are not the design the papers fix.
SPECS = {"self_consistency": "self_consistency:n=5", "medprompt": "medprompt:shuffles=5"}
# Expected calls per item: an int, or "options+1".
DESIGN: dict[str, int | str] = {
    "direct": 1,
    "cot": 1,
    "ensemble_refinement": 44,
    "self_consistency": 5,
    "medprompt": 5,
    "verification_of_choice": "options+1",
    "multi_persona": 7,
    "medagents": 18,
    "self_refine": 2,
}


def respond(request: GenerationRequest) -> str:
    """One reply every strategy can parse: fields, a verdict, a vote, then an answer.

    The letter depends on the prompt and sample index, so votes are not unanimous.
    """
    prompt = "".join(m.content for m in request.messages)
    letter = "ABCD"[zlib.crc32(f"{prompt}|{request.sample_index}".encode()) % 4]
    return (
        "Reasoning about the findings.\n"
        "Medical fields: Cardiology | Neurology | Pharmacology | Pathology | Nephrology\n"
        "Verdict: correct\nYES\n"
        f"Answer: {letter}"
    )


def serialise(messages: list[dict[str, str]]) -> str:
    return "".join(f"<|{m['role']}|>{m['content']}" for m in messages)


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on slices: fast in CPython
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def shared_prefix_fraction(prompts: list[tuple[str, str]], *, across_items: bool = True) -> float:
    """Share of characters in a prefix identical to another call's (of another item).

    `prompts` holds (item id, serialised prompt), one per call. In sorted order the longest
    common prefix with any other string is reached at the nearest neighbours; with
    `across_items`, walk outwards past calls of the same item to the nearest one from
    another item on each side.
    """
    ordered = sorted(prompts, key=lambda p: p[1])
    shared = total = 0
    for i, (item, text) in enumerate(ordered):
        best = 0
        for step in (-1, 1):
            j = i + step
            while across_items and 0 <= j < len(ordered) and ordered[j][0] == item:
                j += step
            if 0 <= j < len(ordered):
                best = max(best, common_prefix(text, ordered[j][1]))
        shared += best
        total += len(text)
    return shared / total if total else 0.0


@dataclass
class Row:
    strategy: str
    spec: str
    calls: float = 0.0
    live_calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    overhead_ms: float = 0.0
    shared: float = 0.0
    reusable: float = 0.0
    check: str = ""
    note: str = ""


class HashEncoder:
    """A deterministic stand-in for a sentence encoder: word-hash bag-of-words vectors.

    The bench measures medq's own overhead; a real encoder's load and compute time is
    model work (like a call) and would swamp it, so kNN strategies embed with this.
    """

    name = "bench-hash-encoder"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % 256] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


@contextlib.contextmanager
def hash_encoder() -> Iterator[None]:
    """Make kNN strategies embed with `HashEncoder` for the duration."""
    from medq.strategies._shared import exemplars as _exemplars

    original = _exemplars.get_encoder
    _exemplars.get_encoder = lambda spec, **kwargs: HashEncoder()  # type: ignore[assignment]
    try:
        yield
    finally:
        _exemplars.get_encoder = original


def measure(name: str, limit: int | None) -> Row:
    # A fresh home (store, cache) per strategy: strategies share prompts (cot, the first
    # stage of ensemble refinement, self-consistency), and a warm cache would hide calls.
    with tempfile.TemporaryDirectory() as home:
        os.environ["MEDQ_HOME"] = home
        with Store() as store:
            return measure_in(name, limit, store)


def measure_in(name: str, limit: int | None, store: Store) -> Row:
    spec_text = SPECS.get(name, name)
    row = Row(name, spec_text)
    model = ScriptedModel(respond, name="scripted/bench")
    spec = EvalSpec(
        task="medqa", sample=True, limit=limit, model="scripted/bench", strategy=spec_text
    )
    started = time.perf_counter()
    try:
        with hash_encoder():
            result = evaluate(spec, store=store, model=model, progress=False)
    except Exception as exc:  # noqa: BLE001 - a skipped strategy is reported, not fatal
        row.note = f"skipped: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
        return row
    wall = time.perf_counter() - started
    samples = list(store.samples(result.run_id))
    errors = [s for s in samples if s["status"] == "error"]
    if errors:
        row.note = f"skipped: {len(errors)} items failed: {errors[0]['reason'][:90]}"
        return row
    n = len(samples)
    calls = sum(s["calls"] for s in samples)
    row.calls = calls / n
    row.live_calls = len(model.calls) / n
    row.prompt_tokens = sum(s["prompt_tokens"] for s in samples) / n
    row.completion_tokens = sum(s["completion_tokens"] for s in samples) / n
    row.overhead_ms = (wall - model.busy_s) / max(calls, 1) * 1000
    prompts = [
        (s["item_id"], serialise(call.request["messages"]))
        for s in samples
        for call in store.calls_for(s["call_keys"])
    ]
    row.shared = shared_prefix_fraction(prompts)
    row.reusable = shared_prefix_fraction(prompts, across_items=False)
    row.check = check(name, samples, limit)
    return row


def check(name: str, samples: list[dict[str, Any]], limit: int | None) -> str:
    design = DESIGN.get(name)
    if design is None:
        return "n/a"
    if design == "options+1":
        task = load_task("medqa", None, sample=True)
        options = {q.id: len(q.options) for q in task.questions}
        ok = all(s["calls"] == options[s["item_id"]] + 1 for s in samples)
        return "PASS" if ok else "FAIL"
    return "PASS" if all(s["calls"] == design for s in samples) else "FAIL"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| strategy | spec | calls/item | live calls/item | prompt tok/item "
        "| completion tok/item | overhead ms/call | prefix shared across items "
        "| prefix shared with any call | design |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r.note:
            lines.append(f"| {r.strategy} | `{r.spec}` | | | | | | | | {r.note} |")
            continue
        lines.append(
            f"| {r.strategy} | `{r.spec}` | {r.calls:.2f} | {r.live_calls:.2f} "
            f"| {r.prompt_tokens:,.0f} | {r.completion_tokens:,.0f} | {r.overhead_ms:.3f} "
            f"| {r.shared:.1%} | {r.reusable:.1%} | {r.check} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="items (default: all 50)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [measure(name, args.limit) for name in strategies.names()]
    print(markdown(rows))
    failed = [r.strategy for r in rows if r.check == "FAIL"]
    slow = [r.strategy for r in rows if not r.note and r.overhead_ms >= 1.0]
    print(f"\ndesign checks: {'FAIL ' + ', '.join(failed) if failed else 'PASS'}")
    print(f"overhead < 1 ms/call: {'FAIL ' + ', '.join(slow) if slow else 'PASS'}")
    return 1 if failed or slow else 0


if __name__ == "__main__":
    sys.exit(main())
