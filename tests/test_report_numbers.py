"""The report's numbers for a small multi-run store, pinned, so faster loading and
computation cannot change a single digit.

Five runs on medqa's sample (direct, cot, a 3-sample self-consistency with confidences, a
run whose model fails on some items, and a run on the first 30 items only) and one run on
another task. `tests/data/report_numbers.json` holds what the JSON report and the item
browser's data said for them when the numbers were last checked; a change to it must be a
deliberate one (regenerate with ``MEDQ_UPDATE_PINNED=1``, read the diff, say why).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from medq.models.base import ModelError
from medq.registry import tasks
from medq.report import build_report
from medq.results import count, hit
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.tasks.base import Task
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question

PINNED = Path(__file__).parent / "data" / "report_numbers.json"


def _model(salt: str, fail_every: int = 0) -> ScriptedModel:
    """Deterministic per prompt (and sample): right, wrong, unreadable, or (with
    `fail_every`) a failed call."""

    def respond(request: GenerationRequest) -> str:
        text = f"{salt}|{request.sample_index}|{request.messages[-1].content}"
        h = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        if fail_every and h % fail_every == 0:
            raise ModelError("scripted permanent failure")
        if h % 9 == 1:
            return "I am not sure."
        return f"Reasoning first. The answer is ({'ABCD'[h % 4]})."

    return ScriptedModel(respond, name=f"scripted/{salt}")


@tasks.register("pinned_other")
def pinned_other(data: Path | None, sample: bool) -> Task:
    questions = tuple(
        Question(f"o{i}", f"Which letter is number {i % 3}?", {"A": "zero", "B": "one",
                                                             "C": "two"}, "ABC"[i % 3],
                 metadata={"topic": ("letters", "numbers")[i % 2]})
        for i in range(12)
    )
    return Task("pinned_other", questions, "generated", "generated", "test")


def _runs(store: Store) -> list[str]:
    specs = [
        (EvalSpec(task="medqa", sample=True, model="scripted/a", strategy="direct"), "a", 0),
        (EvalSpec(task="medqa", sample=True, model="scripted/b", strategy="cot"), "b", 0),
        (EvalSpec(task="medqa", sample=True, model="scripted/c",
                  strategy="self_consistency(n=3)"), "c", 0),
        (EvalSpec(task="medqa", sample=True, model="scripted/d", strategy="direct"), "d", 7),
        (EvalSpec(task="medqa", sample=True, model="scripted/e", strategy="cot", limit=30),
         "e", 0),
        (EvalSpec(task="pinned_other", model="scripted/f", strategy="direct"), "f", 0),
    ]
    return [evaluate(spec, store=store, model=_model(salt, fail), progress=False,
                     max_error_rate=0.5).run_id
            for spec, salt, fail in specs]


def _numbers(store: Store, ids: list[str]) -> dict[str, Any]:
    """The JSON report and the item browser's per-item records, run IDs as run0, run1 …"""
    names = {run_id: f"run{i}" for i, run_id in enumerate(ids)}

    def renamed(text: str) -> Any:
        for run_id, name in names.items():
            text = text.replace(run_id, name)
        return json.loads(text)

    report = renamed(build_report(store, ids, "json", progress=False))
    report.pop("medq_version")
    for run in report["runs"]:
        run["summary"].pop("wall_s")  # the clock's, not the report's
    html = build_report(store, ids, progress=False)
    blob = re.search(r'id="item-data">([^<]*)</script>', html)
    assert blob is not None
    data = json.loads(gzip.decompress(base64.b64decode(blob.group(1))))
    strings = data["strings"]
    items = {
        f"{data['tasks'][item['t']]}/{item['id']}": [
            None if r is None else [r[0], r[1], r[2], r[3],
                                    None if r[4] == -1 else strings[r[4]], strings[r[5]]]
            for r in item["r"]
        ]
        for item in data["items"]
    }
    return {"report": report, "items": items}


def test_report_numbers_are_pinned(medq_home: Path) -> None:
    with Store() as store:
        ids = _runs(store)
        found = _numbers(store, ids)
        # An independent check of the pinned file's kind of numbers: the first pair's
        # discordant counts straight from the stored rows.
        a = {s["item_id"]: hit(s) for s in store.samples(ids[0])}
        b = {s["item_id"]: hit(s) for s in store.samples(ids[1])}
        # `medq runs` counts from four columns: the same counts as from the whole rows.
        assert [store.counts(i) for i in ids] == [count(store.samples(i)) for i in ids]
    pair = found["report"]["comparisons"][0]["pairs"][0]
    assert (pair["run_a"], pair["run_b"]) == ("run0", "run1")
    assert pair["a_only_correct"] == sum(a[i] == 1 and b[i] == 0 for i in a)
    assert pair["b_only_correct"] == sum(a[i] == 0 and b[i] == 1 for i in a)
    assert found["report"]["runs"][2]["calibration"] is not None  # votes give confidences
    assert found["report"]["runs"][3]["summary"]["errors"] > 0
    assert [len(c["runs"]) for c in found["report"]["comparisons"]] == [5]
    if os.environ.get("MEDQ_UPDATE_PINNED"):
        PINNED.parent.mkdir(exist_ok=True)
        PINNED.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"rewrote {PINNED}")
    # Exact equality, floats included: JSON keeps every digit of a float's repr.
    assert found == json.loads(PINNED.read_text())
