"""Scripted judges as a model backend (``judgetest/<name>``), so runs name them as roles
exactly as they name real judges; each test fills the `judges` fixture (conftest) with
responders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from medq.registry import models
from medq.testing.scripted import Responder, ScriptedModel


class Judges(dict[str, Responder]):
    """name -> responder, and every model built for each name (to count its calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.built: dict[str, list[ScriptedModel]] = {}

    def calls(self, name: str) -> int:
        return sum(len(m.calls) for m in self.built.get(name, []))


LIVE = Judges()


@models.register("judgetest")
def judgetest(name: str) -> ScriptedModel:
    model = ScriptedModel(LIVE[name], name=f"judgetest/{name}")
    LIVE.built.setdefault(name, []).append(model)
    return model


def fresh_judges() -> Iterator[Judges]:
    LIVE.clear()
    LIVE.built.clear()
    yield LIVE
    LIVE.clear()


def write_rubric_file(path: Path, items: list[dict]) -> Path:
    """A HealthBench-format JSONL file: each item {id, messages, rubric: [(points,
    criterion, tags?)], tags?}."""
    rows = [{
        "prompt_id": item["id"],
        "prompt": item["messages"],
        "rubrics": [{"criterion": entry[1], "points": entry[0],
                     "tags": list(entry[2]) if len(entry) > 2 else []}
                    for entry in item["rubric"]],
        "example_tags": item.get("tags", []),
    } for item in items]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
