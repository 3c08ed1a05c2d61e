"""The choice reader uses the item's language (English always on) and explains itself."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, evaluate
from medq.strategies.base import answer_from
from medq.testing.scripted import ScriptedModel
from medq.types import Completion, Generation, Question, Status

OPTIONS = {"A": "Asma", "B": "Neumonía", "C": "Embolia pulmonar", "D": "Neumotórax"}


def question(language: str | None) -> Question:
    return Question("q1", "¿Diagnóstico?", OPTIONS, "C",
                    metadata={"language": language} if language else {})


def test_an_items_language_selects_its_lexicon() -> None:
    reply = Completion((Generation("La respuesta correcta es la C."),))
    assert answer_from(reply, question("es")).choice == "C"
    english_only = answer_from(reply, question(None))
    assert english_only.status is Status.INVALID
    assert english_only.details["invalid_reason"] == "no_answer"


def test_a_language_without_a_lexicon_falls_back_to_english_and_says_so() -> None:
    answer = answer_from(Completion((Generation("The answer is C."),)), question("sw"))
    assert answer.choice == "C"
    assert answer.details["languages_without_lexicon"] == ["sw"]


def test_show_breaks_a_run_down_by_extraction_rule_and_invalid_reason(medq_home: Path) -> None:
    replies = iter(["Answer: B", "I cannot tell.", "The answer is C. Actually, no, not C."] * 2)
    result = evaluate(EvalSpec("medqa", "scripted/t", "direct", sample=True, limit=6),
                      model=ScriptedModel(lambda r: next(replies)), progress=False)
    out = CliRunner().invoke(app, ["show", result.run_id, "--by", "extraction",
                                   "--format", "json"])
    assert out.exit_code == 0, out.output
    groups = {g["group"]: g["n"] for g in json.loads(out.stdout)["breakdowns"]["extraction"]}
    assert groups["invalid:retracted"] == 2 and groups["invalid:no_answer"] == 2
    assert sum(groups.values()) == 6
