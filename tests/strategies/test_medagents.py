"""MedAgents: experts, analyses, a report, voting rounds with revisions, a decision."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from tests.strategies.conftest import RunTiny

from medq.run_settings import RunFailedError
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies._shared.verdicts import parse_fields
from medq.strategies.medagents import medagents
from medq.testing.scripted import Reply, ScriptedModel, failing, table
from medq.types import GenerationRequest, Question, Status

QUESTION = Question("q1", "Which drug?", {"A": "aspirin", "B": "heparin", "C": "warfarin"}, "B")
Q_FIELDS = ["Cardiology", "Neurology", "Nephrology", "Pulmonology", "Endocrinology"]
O_FIELDS = ["Pharmacology", "Pathology"]
KINDS = {
    "question_domains": "You sort medical scenarios",
    "option_domains": "You identify which fields",
    "question_analysis": "examine the medical scenario",
    "option_analysis": "skilled at judging the options",
    "synthesis": "synthesises the reports",
    "vote": "Reply with one word only: YES or NO",
    "advice": "propose revisions",
    "revision": "Revise a report",
    "decision": "has agreed on the report",
}


def expert(request: GenerationRequest) -> str:
    found = re.search(r"You are a medical expert in ([^.,]+)", request.messages[-1].content)
    assert found is not None
    return found.group(1)


def script(vote: Reply) -> ScriptedModel:
    replies: dict[str, Reply] = {
        KINDS["question_domains"]: "Medical fields: " + " | ".join(Q_FIELDS),
        KINDS["option_domains"]: "Medical fields: " + " | ".join(O_FIELDS),
        KINDS["question_analysis"]: lambda r: f"{expert(r)} thinks hard.",
        KINDS["option_analysis"]: lambda r: f"{expert(r)} weighs options.",
        KINDS["synthesis"]: "Key knowledge: k\nTotal analysis: first report",
        KINDS["vote"]: vote,
        KINDS["advice"]: lambda r: f"Revisions: {expert(r)} advice",
        KINDS["revision"]: "Key knowledge: k\nTotal analysis: REVISED report",
        KINDS["decision"]: "Per the report.\nAnswer: B",
    }
    return ScriptedModel(table(replies))


def kinds(model: ScriptedModel) -> Counter[str]:
    return Counter(next(k for k, key in KINDS.items() if key in c.prompt) for c in model.recorded)


async def test_all_experts_agree_at_once_makes_18_calls() -> None:
    model = script("YES")
    answer = await medagents()(QUESTION, model)
    assert len(model.recorded) == 2 + 5 + 2 + 1 + 7 + 1 == 18
    assert kinds(model) == Counter(
        question_domains=1, option_domains=1, question_analysis=5, option_analysis=2,
        synthesis=1, vote=7, decision=1,
    )  # fmt: skip
    assert sorted(expert(c.request) for c in model.recorded if KINDS["vote"] in c.prompt) == sorted(
        Q_FIELDS + O_FIELDS
    )
    for prompt in model.prompts(KINDS["option_analysis"]):
        assert all(f"{f} thinks hard." in prompt for f in Q_FIELDS)
    (synthesis,) = model.prompts(KINDS["synthesis"])
    assert all(f"{f} weighs options." in synthesis for f in O_FIELDS)
    assert "first report" in model.prompts(KINDS["decision"])[0]
    assert {c.temperature for c in model.recorded} == {0.0}
    assert (answer.choice, answer.status) == ("B", Status.OK)
    assert answer.details["rounds"] == [{"agree": Q_FIELDS + O_FIELDS, "disagree": []}]
    assert answer.details["consensus"] is True


async def test_dissent_gets_advice_and_a_revision_then_consensus_stops_the_rounds() -> None:
    def vote(request: GenerationRequest) -> str:
        dissent = expert(request) in {"Cardiology", "Pathology"}
        return "NO" if dissent and "REVISED" not in request.messages[-1].content else "YES"

    model = script(vote)
    answer = await medagents(max_rounds=3)(QUESTION, model)
    assert kinds(model)["vote"] == 14 and kinds(model)["advice"] == 2
    assert kinds(model)["revision"] == 1
    assert len(model.recorded) == 10 + (7 + 2 + 1) + 7 + 1 == 28
    (revision,) = model.prompts(KINDS["revision"])
    assert "Cardiology advice" in revision and "Pathology advice" in revision
    assert "REVISED report" in model.prompts(KINDS["decision"])[0]
    assert answer.details["rounds"][0]["disagree"] == ["Cardiology", "Pathology"]
    assert answer.details["consensus"] is True


async def test_rounds_stop_at_max_rounds_without_consensus() -> None:
    model = script("NO")
    answer = await medagents(max_rounds=2)(QUESTION, model)
    assert len(model.recorded) == 10 + 2 * (7 + 7 + 1) + 1 == 41
    assert answer.details["consensus"] is False and len(answer.details["rounds"]) == 2
    assert answer.choice == "B"


async def test_an_unparseable_vote_is_dissent() -> None:
    model = script("Partly, with caveats.")
    await medagents(max_rounds=1)(QUESTION, model)
    assert kinds(model)["advice"] == 7


def test_fields_are_cut_or_padded_to_the_expert_count() -> None:
    assert parse_fields("Medical fields: A | B | C", 2) == ["A", "B"]
    assert parse_fields("Sure!\nMedical fields: **Cardiology** | Neurology", 3) == [
        "Cardiology",
        "Neurology",
        "General Medicine",
    ]
    assert parse_fields("no idea", 1) == ["no idea"]
    assert parse_fields("", 2) == ["General Medicine", "General Medicine"]


def test_failed_vote_is_an_error_in_the_run() -> None:
    spec = EvalSpec(task="medqa", sample=True, limit=1, model="s/ma", strategy="medagents")
    model = script(failing("voter down"))
    with Store() as store:
        with pytest.raises(RunFailedError, match="all 1 items failed: voter down") as failed:
            evaluate(spec, store=store, model=model, progress=False)
        (row,) = store.samples(failed.value.run_id)
    assert (row["status"], row["choice"]) == ("error", None)


@pytest.mark.slow
def test_end_to_end_on_the_tiny_local_model(run_tiny: RunTiny) -> None:
    strategy = "medagents:question_experts=2,option_experts=1,max_rounds=1,max_tokens=8"
    (row,) = run_tiny(strategy, limit=1)
    # 2 domain calls + 3 analyses + report + 3 votes + <= 3 advice + <= 1 revision + decision
    assert 10 <= row["calls"] <= 14
    assert row["status"] in {"ok", "invalid"}
