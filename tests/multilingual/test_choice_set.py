"""Multi-answer items: the set reader (French and English phrasings, JSON, refusals), EMR
and Hamming by hand, FrenchMedMCQA loading, and the multi_answer strategy end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, evaluate, rescore
from medq.scoring.choice_set import extract_choice_set, hamming_score, set_metrics
from medq.store import Store
from medq.strategies._shared.spec import StrategySpecError
from medq.tasks import TaskDataError, load_task
from medq.tasks._io import PACKAGE_DATA
from medq.testing.scripted import ScriptedModel
from medq.types import Question

OPTIONS = dict.fromkeys("ABCDE", "x")


@pytest.mark.parametrize(("text", "languages", "letters"), [
    ("Les réponses exactes sont B, C et D.", ["fr"], "BCD"),
    ("Réponse : B, C et D", ["fr"], "BCD"),
    ("réponse : b et d.", ["fr"], "BD"),
    ("Les bonnes réponses sont A et E car ...", ["fr"], "AE"),
    ("B, C and D", [], "BCD"),
    ("The correct answers are B, C and D because both ...", [], "BCD"),
    ("BCD", [], "BCD"),
    ("DCB", [], "BCD"),
    ('["B", "C", "D"]', [], "BCD"),
    ('{"answers": ["d", "b"]}', [], "BD"),
    ("**Answer:** B, C", [], "BC"),
    ("Answers: (B) (D)", [], "BD"),
    ("Answer: B/C/D", [], "BCD"),
    ("I first thought A and C. Final answer: A, C, E", [], "ACE"),
    ("Risposta: B, C e D", ["it"], "BCD"),
    ("Respuestas: A y C", ["es"], "AC"),
    ("<think>A, B</think>Answer: D", [], "D"),
])
def test_reads_the_stated_set(text: str, languages: list[str], letters: str) -> None:
    found = extract_choice_set(text, OPTIONS, languages)
    assert found.letters == letters, found


@pytest.mark.parametrize(("text", "reason"), [
    ("Answer: B, F", "letter F is not an option (A-E)"),
    ("Answer: F", "letter F is not an option (A-E)"),
    ("Answer: B or C", 'conflicting answers ("or")'),
    ("Answer: I think B", "no answer set found"),
    ("Réponse : a été difficile à trouver", "no answer set found"),
    ("A patient presents with fever.", "no answer set found"),
    ("I am not sure.", "no answer set found"),
    ("<think>B and C", "unclosed <think> block"),
])
def test_never_guesses(text: str, reason: str) -> None:
    found = extract_choice_set(text, OPTIONS, ["fr"])
    assert found.letters is None and found.reason == reason


def test_french_conjunction_needs_french() -> None:
    assert extract_choice_set("Réponses : B, C et D", OPTIONS, ["fr"]).letters == "BCD"
    # Without the French lexicon "et" does not join letters, and the phrase is no set.
    assert extract_choice_set("Réponses : B, C et D", OPTIONS).letters is None


def _sample(item: str, choice: str | None, gold: str, status: str = "ok") -> dict:
    return {"item_id": item, "status": status, "choice": choice, "gold": gold,
            "correct": None if choice is None else int(choice == gold),
            "details": {"metadata": {"n_correct": len(gold)}}}


def test_emr_and_hamming_by_hand() -> None:
    assert hamming_score("BC", "BCD") == pytest.approx(2 / 3)
    assert hamming_score("A", "BCD") == 0.0 and hamming_score(None, "B") == 0.0
    one = set_metrics([_sample("1", "BC", "BCD")])
    assert one is not None and one["emr"] == 0.0 and one["hamming"] == pytest.approx(2 / 3)
    found = set_metrics([
        _sample("1", "BC", "BCD"),          # EMR 0, Hamming 2/3
        _sample("2", "A", "A"),             # EMR 1, Hamming 1
        _sample("3", None, "AB", "invalid"),  # a miss in both, still in n
        _sample("4", None, "C", "error"),   # left out
    ])
    assert found is not None and found["n"] == 3
    assert found["emr"] == pytest.approx(1 / 3)
    assert found["hamming"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert found["emr_ci_low"] < found["emr"] < found["emr_ci_high"]
    assert 0 <= found["hamming_ci_low"] <= found["hamming"] <= found["hamming_ci_high"] <= 1
    assert found["by_n_correct"] == {
        "1": {"n": 1, "emr": 1.0, "hamming": 1.0},
        "2": {"n": 1, "emr": 0.0, "hamming": 0.0},
        "3": {"n": 1, "emr": 0.0, "hamming": pytest.approx(2 / 3)},
    }


def test_gold_set_must_be_option_letters_in_order() -> None:
    assert Question("q", "s", OPTIONS, "BCD").gold == "BCD"
    for bad in ("DB", "BB", "BX", ""):
        with pytest.raises(ValueError, match="not an option letter"):
            Question("q", "s", OPTIONS, bad)


def test_frenchmedmcqa_test_split(shared_data: Path) -> None:
    task = load_task("frenchmedmcqa", shared_data / "frenchmedmcqa")
    assert len(task) == 622 and task.answer_kind == "choice_set" and task.language == "fr"
    counts = [sum(q.metadata["n_correct"] == k for q in task.questions) for k in range(1, 6)]
    assert counts == [321, 97, 141, 56, 7]
    assert all(len(q.gold) == q.metadata["n_correct"] for q in task.questions)
    assert all(q.metadata["language"] == "fr" for q in task.questions)
    assert len(load_task("frenchmedmcqa_dev", shared_data / "frenchmedmcqa")) == 312


def test_malformed_release_names_item_and_field(tmp_path: Path) -> None:
    records = json.loads((PACKAGE_DATA / "samples/frenchmedmcqa/test.json").read_text())
    records[3]["nbr_correct_answers"] = 4
    path = tmp_path / "test.json"
    path.write_text(json.dumps(records))
    with pytest.raises(TaskDataError, match=r"test.json, item 4: field 'nbr_correct_answers'"):
        load_task("frenchmedmcqa", path)


def test_sample_is_reproduced_from_the_release(shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_ml", Path(__file__).with_name("build_samples_multilingual.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_ml"] = module
    spec.loader.exec_module(module)
    built = module.frenchmedmcqa_sample(shared_data / "frenchmedmcqa" / "test.json")
    assert built == (PACKAGE_DATA / "samples/frenchmedmcqa/test.json").read_text()


def test_multi_answer_end_to_end_and_rescore() -> None:
    model = ScriptedModel(lambda r: "Je pense que... Réponses : A, B, C, D et E")
    spec = EvalSpec(task="frenchmedmcqa", model="scripted/x", strategy="multi_answer",
                    sample=True)
    with Store() as store:
        result = evaluate(spec, store=store, model=model, progress=False)
        summary = result.summary
        # Answering all five options: EMR only on the 6 five-answer items, Hamming k/5.
        assert summary["emr"] == pytest.approx(6 / 30)
        assert summary["hamming"] == pytest.approx(sum(k / 5 for k in range(1, 6)) / 5)
        assert summary["accuracy"] == summary["emr"]
        prompt = model.calls[0].messages[-1].content
        assert "One or more of the options are correct" in prompt
        again = rescore(result.run_id, store=store)
        assert again.summary["hamming"] == summary["hamming"]
    out = CliRunner().invoke(app, ["show", result.run_id, "--format", "json"])
    shown = json.loads(out.stdout)
    for key in ("emr", "emr_ci_low", "emr_ci_high", "hamming", "hamming_ci_low",
                "hamming_ci_high"):
        assert isinstance(shown[key], float), key
    assert shown["n_items"] == 30


def test_single_answer_strategy_is_refused() -> None:
    spec = EvalSpec(task="frenchmedmcqa", model="scripted/x", strategy="direct", sample=True)
    with pytest.raises(StrategySpecError, match="needs choice_set answers"):
        evaluate(spec, model=ScriptedModel(lambda r: "A"), progress=False)


def test_cli_eval_reports_emr_and_hamming() -> None:
    out = CliRunner().invoke(app, [
        "eval", "--task", "frenchmedmcqa", "--sample", "--strategy", "multi_answer",
        "--model", "scripted/text:Answers: A, B"])
    assert out.exit_code == 0, out.output
    assert "EMR %" in out.stdout and "Hamming %" in out.stdout
