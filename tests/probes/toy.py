"""Toy multiple-choice and calculation tasks for the probe tests."""

from __future__ import annotations

from pathlib import Path

from medq.registry import tasks
from medq.tasks.base import Task
from medq.types import Question

N_TOY = 20


def toy_questions(n: int = N_TOY, options: int = 4) -> tuple[Question, ...]:
    """Items whose gold cycles through the positions; option texts name their item."""
    letters = "ABCDE"[:options]
    return tuple(
        Question(
            id=f"t{i:03d}",
            stem=f"Which zorblat number {i} is quintessential?",
            options={k: f"{k.lower()}-option-{i}" for k in letters},
            gold=letters[i % options],
            metadata={"subject": "even" if i % 2 == 0 else "odd"},
        )
        for i in range(n)
    )


@tasks.register("probe_toy")
def probe_toy(data: Path | None, sample: bool) -> Task:
    return Task("probe_toy", toy_questions(), "A toy task for probe tests.", "generated",
                "test")


@tasks.register("probe_toy_calc")
def probe_toy_calc(data: Path | None, sample: bool) -> Task:
    items = (Question("c1", "What is 2+2?", {}, "4"),)
    return Task("probe_toy_calc", items, "A toy calculation task.", "generated", "test",
                answer_kind="calculation")
