"""HealthBench scored by hand: a scripted model, scripted judges, official scoring."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from judge_helpers import Judges, write_rubric_file

from medq._store_codec import unpack_json
from medq.runner import EvalSpec, ModelRef, evaluate, rescore
from medq.store import Store
from medq.testing.judges import rubric_judge
from medq.testing.scripted import ScriptedModel, table

# Each item: the model's reply, the rubric ((points, criterion, tags)), the hand score.
# The keyword judge says a criterion "mentions K" is met when K is in the reply.
ITEMS = [
    {"id": "a", "messages": [{"role": "user", "content": "question a"}],
     "rubric": [(5, "mentions X", ["axis:accuracy"]), (3, "mentions Y", ["axis:completeness"]),
                (-4, "mentions Z", ["axis:accuracy"])],
     "tags": ["theme:t1"]},  # X and Z met: (5 - 4) / 8 = 0.125
    {"id": "b", "messages": [{"role": "user", "content": "question b"}],
     "rubric": [(2, "mentions X", ["axis:accuracy"]), (-3, "mentions Z", ["axis:accuracy"])],
     "tags": ["theme:t1"]},  # only the penalty met: -3 / 2 = -1.5 (negative)
    {"id": "c", "messages": [{"role": "user", "content": "question c"}],
     "rubric": [(4, "mentions Y", ["axis:completeness"])],
     "tags": ["theme:t2"]},  # 4 / 4 = 1.0
    {"id": "d", "messages": [{"role": "user", "content": "hi"},
                             {"role": "assistant", "content": "hello, how can I help?"},
                             {"role": "user", "content": "question d"}],
     "rubric": [(1, "mentions X", ["axis:accuracy"])],
     "tags": ["theme:t2"]},  # 1 / 1 = 1.0
]
REPLIES = {"question a": "X and Z", "question b": "Z", "question c": "Y", "question d": "X"}
HAND = {"a": 0.125, "b": -1.5, "c": 1.0, "d": 1.0}
MEAN = (0.125 - 1.5 + 1.0 + 1.0) / 4  # 0.15625: the aggregate, clipped only as a whole
CRITERIA = 7


def keyword(reply: str, criterion: str) -> bool:
    return criterion.rsplit(" ", 1)[-1] in reply


def model() -> ScriptedModel:
    return ScriptedModel(table(REPLIES), name="scripted/expert")


def spec(data: Path, **roles: str) -> EvalSpec:
    return EvalSpec("healthbench", "scripted/expert", "respond", data=str(data),
                    roles={role: ModelRef(name) for role, name in roles.items()})


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_rubric_file(tmp_path / "2025-05-07-06-14-12_oss_eval.jsonl", ITEMS)


def test_hand_scored_items_and_the_aggregate(data: Path, judges: Judges) -> None:
    judges["keyword"] = rubric_judge(keyword)
    expert = model()
    result = evaluate(spec(data, judge="judgetest/keyword"), model=expert, progress=False)
    s = result.summary
    assert judges.calls("keyword") == CRITERIA
    assert result.new_calls == 4 + CRITERIA  # the judge's calls are the run's calls too
    # The conversation goes to the model as it is: every turn, no system prompt added.
    sent = [[(m.role, m.content) for m in r.messages] for r in expert.calls]
    assert [("user", "hi"), ("assistant", "hello, how can I help?"),
            ("user", "question d")] in sent
    with Store() as store:
        scores = {x.item_id: x.score for x in store.samples(result.run_id)}
    assert scores == pytest.approx(HAND)
    assert s["score_unclipped"] == pytest.approx(MEAN)
    assert s["score"] == pytest.approx(MEAN)  # not the mean of clipped items (0.53125)
    assert s["accuracy"] is None and s["graded"] == 4 and s["ungraded"] == 0
    assert s["ungraded_rate"] == 0.0
    assert s["ci_low"] == s["score_ci_low"] and s["ci_low"] <= s["score"] <= s["ci_high"]
    tags = s["healthbench_tags"]
    assert tags["theme:t1"]["score_unclipped"] == pytest.approx((0.125 - 1.5) / 2)
    assert tags["theme:t1"]["score"] == 0.0  # clipped in the aggregate
    assert tags["theme:t2"]["score"] == 1.0
    # axis:accuracy per item: a (5 - 4) / 5, b -3 / 2, d 1 / 1; c has no such criterion.
    assert tags["axis:accuracy"]["score_unclipped"] == pytest.approx((0.2 - 1.5 + 1) / 3)
    assert tags["axis:accuracy"]["n"] == 3
    assert tags["axis:completeness"]["score_unclipped"] == pytest.approx(0.5)
    from medq.report.items import verdict
    from medq.scoring.stats import breakdown

    with Store() as store:
        groups = {g.group: g for g in breakdown(store.samples(result.run_id), "theme")}
        # The report's item browser says "graded", not "wrong", for a rubric item.
        assert {verdict(x) for x in store.samples(result.run_id)} == {"graded"}
    # Rubric items have no right/wrong verdict: no accuracy (never a 0.0 that looks right).
    assert groups["t1"].accuracy is None and groups["t1"].ci_low is None
    assert groups["t1"].score == pytest.approx((0.125 - 1.5) / 2)
    assert groups["t2"].score == pytest.approx(1.0) and groups["t2"].n == 2
    judged = s["judges"]
    assert judged["jury"] == ["judge"] and judged["criteria"] == CRITERIA
    assert judged["per_judge"]["judge"]["reported_models"] == ["judgetest/keyword"]
    assert judged["per_judge"]["judge"]["mean_score"] == pytest.approx(MEAN)


def test_the_interval_is_seeded_and_clipped(data: Path, judges: Judges) -> None:
    from medq.scoring.metrics import score_interval

    values = list(HAND.values())
    assert score_interval(values, seed=3) == score_interval(values, seed=3)
    low, high = score_interval(values, seed=3)
    assert 0.0 <= low <= MEAN <= high <= 1.0
    assert score_interval([-2.0, -1.0], seed=0) == (0.0, 0.0)


@pytest.mark.parametrize("bad", ["I think the reply meets it.", '{"criteria_met": "maybe"}'])
def test_a_judge_that_never_answers_validly_leaves_items_ungraded(
    data: Path, judges: Judges, bad: str
) -> None:
    judges["bad"] = rubric_judge(lambda reply, criterion: bad)
    result = evaluate(spec(data, judge="judgetest/bad"), model=model(), progress=False)
    s = result.summary
    assert judges.calls("bad") == 3 * CRITERIA  # one ask and two re-asks per criterion
    assert s["graded"] == 0 and s["ungraded"] == 4 and s["ungraded_rate"] == 1.0
    assert s["score"] is None and s["score_unclipped"] is None and s["n"] == 0
    assert s["judges"]["ungraded_criteria"] == CRITERIA
    assert s["judges"]["per_judge"]["judge"]["invalid"] == CRITERIA
    # The re-asks quote the validation error.
    asked = [r.messages[-1].content for m in judges.built["bad"] for r in m.calls
             if len(r.messages) > 1]
    assert asked and all("could not be used" in a for a in asked)
    expected = "no JSON object" if bad.startswith("I") else "valid boolean"
    assert all(expected in a for a in asked)
    # No default score anywhere in the store.
    with Store() as store:
        path = store.path
    db = sqlite3.connect(path)
    # (details are stored compactly: medq._store_codec)
    rows = db.execute("SELECT status, score, correct, choice, details FROM samples").fetchall()
    assert {r[0] for r in rows} == {"ungraded"}
    assert all(r[1] is None and r[2] is None and r[3] is None for r in rows)
    for row in rows:
        details = json.loads(unpack_json(row[4]))
        votes = [v for d in details["grading"]["decisions"] for v in d["votes"]]
        assert all(v["label"] is None and v["error"] for v in votes)
    assert all(json.loads(unpack_json(row[4]))["grading"]["judge_scores"] == {"judge": None}
               for row in rows)


def test_a_jury_of_three_with_one_judge_always_invalid(data: Path, judges: Judges) -> None:
    judges["keyword"] = rubric_judge(keyword)
    judges["keyword2"] = rubric_judge(keyword)
    judges["prose"] = rubric_judge(lambda reply, criterion: "Looks fine to me.")
    result = evaluate(spec(data, judge="judgetest/keyword", judge_2="judgetest/keyword2",
                           judge_3="judgetest/prose"), model=model(), progress=False)
    s = result.summary
    # Two matching votes of three decide every criterion: the hand scores stand.
    assert s["score_unclipped"] == pytest.approx(MEAN) and s["ungraded"] == 0
    jury = s["judges"]
    assert jury["jury"] == ["judge", "judge_2", "judge_3"]
    assert jury["per_judge"]["judge_3"]["invalid"] == CRITERIA
    assert jury["per_judge"]["judge_3"]["reasks"] == 2 * CRITERIA
    assert jury["per_judge"]["judge_3"]["mean_score"] is None
    assert jury["per_judge"]["judge_2"]["mean_score"] == pytest.approx(MEAN)
    agreement = jury["agreement"]
    assert agreement["kappa"]["judge vs judge_2"] == {"kappa": 1.0, "n": CRITERIA}
    assert agreement["kappa"]["judge vs judge_3"] == {"kappa": None, "n": 0}
    assert agreement["alpha"] == pytest.approx(1.0)
    assert agreement["disagreement_rate"] == 0.0 and agreement["comparable"] == CRITERIA


def test_a_split_jury_leaves_the_criterion_ungraded(data: Path, judges: Judges) -> None:
    judges["keyword"] = rubric_judge(keyword)
    judges["contrary"] = rubric_judge(lambda reply, criterion: not keyword(reply, criterion))
    result = evaluate(spec(data, judge="judgetest/keyword", judge_2="judgetest/contrary"),
                      model=model(), progress=False)
    s = result.summary
    assert s["ungraded"] == 4 and s["judges"]["ungraded_criteria"] == CRITERIA
    assert s["judges"]["agreement"]["disagreement_rate"] == 1.0
    with Store() as store:
        reasons = {x.reason for x in store.samples(result.run_id)}
    assert all("no majority of the 2 judges" in r for r in reasons)


def test_rescore_regrades_from_the_cache_and_a_changed_prompt_is_a_new_run(
    data: Path, judges: Judges, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medq.prompts as prompts

    judges["keyword"] = rubric_judge(keyword)
    expert = model()
    first = evaluate(spec(data, judge="judgetest/keyword"), model=expert, progress=False)
    with Store() as store:
        again = rescore(first.run_id, store=store)
        assert again.summary["rescore"]["kept"] == {}
        assert again.summary["score_unclipped"] == pytest.approx(MEAN)
        assert {x.item_id: x.score for x in store.samples(first.run_id)} == pytest.approx(HAND)
    assert judges.calls("keyword") == CRITERIA  # the regrade made no call
    resumed = evaluate(spec(data, judge="judgetest/keyword"), model=expert, progress=False)
    assert resumed.run_id == first.run_id and resumed.new_calls == 0

    original = prompts._template_text

    def edited(name: str) -> str:
        text = original(name)
        return text + "\nBe strict." if name == "judge_rubric" else text

    monkeypatch.setattr(prompts, "_template_text", edited)
    changed = evaluate(spec(data, judge="judgetest/keyword"), model=expert, progress=False)
    assert changed.run_id != first.run_id
    assert judges.calls("keyword") == 2 * CRITERIA  # the new prompt asked every criterion
    assert len(expert.calls) == 4  # the model's replies came from the cache
    with Store() as store:
        info = store.run(changed.run_id)["info"]
        assert set(info["prompts"]) == {"judge_rubric", "judge_reask"}
        assert info["prompts"]["judge_rubric"] != store_hash(first.run_id)
        # The old run cannot be regraded from the cache under the new prompt: every item
        # keeps its result, and the reason names the prompt.
        stale = rescore(first.run_id, store=store).summary["rescore"]["kept"]
    ((why, kept),) = stale.items()
    assert "prompt 'judge_rubric' changed since the run" in why and kept == 4


def store_hash(run_id: str) -> str:
    with Store() as store:
        return store.run(run_id)["info"]["prompts"]["judge_rubric"]


def test_a_run_without_a_judge_fails_before_any_item(data: Path) -> None:
    with pytest.raises(LookupError, match="no model for role 'judge'"):
        evaluate(spec(data), model=model(), progress=False)


def test_an_ungraded_penalty_is_left_out_and_counted(data: Path, judges: Judges) -> None:
    from medq.judge.summary import ungraded_failure

    judges["no_z"] = rubric_judge(
        lambda reply, criterion: "?" if criterion.endswith("Z") else keyword(reply, criterion))
    result = evaluate(spec(data, judge="judgetest/no_z"), model=model(), progress=False)
    s = result.summary
    # a: X met (5) of 8, the -4 penalty ungraded and left out; b: nothing met of 2.
    with Store() as store:
        scores = {x.item_id: x.score for x in store.samples(result.run_id)}
    assert scores == pytest.approx({"a": 5 / 8, "b": 0.0, "c": 1.0, "d": 1.0})
    assert s["ungraded"] == 0 and s["judges"]["ungraded_criteria"] == 2
    why = ungraded_failure(s, 0.01)
    assert why is not None and "2 of 7 criteria (28.6%) are ungraded" in why
    assert ungraded_failure(s, 0.5) is None


def test_the_release_file_is_downloaded_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools
    import http.server
    import threading

    from medq.tasks import healthbench

    served = tmp_path / "release"
    served.mkdir()
    write_rubric_file(served / healthbench.FILES["healthbench_hard"], ITEMS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("HF_HUB_OFFLINE")
        monkeypatch.setattr(healthbench, "RELEASE", f"http://127.0.0.1:{server.server_port}/")
        from medq.tasks.base import load_task

        task = load_task("healthbench_hard")
        assert [q.id for q in task.questions] == ["a", "b", "c", "d"]
        assert task.source.startswith("release:http://127.0.0.1:")
    finally:
        server.shutdown()
        server.server_close()
    assert load_task("healthbench_hard").questions == task.questions  # from the cache
    monkeypatch.setattr(healthbench, "RELEASE", "http://127.0.0.1:9/")
    from medq.tasks.base import DatasetUnavailableError

    with pytest.raises(DatasetUnavailableError, match="unreachable"):
        load_task("healthbench_consensus")


def test_an_empty_reply_is_invalid_a_miss_and_never_judged(data: Path, judges: Judges) -> None:
    judges["keyword"] = rubric_judge(keyword)
    replies = {**REPLIES, "question c": "<think>nothing to say</think>  "}
    expert = ScriptedModel(table(replies), name="scripted/expert")
    result = evaluate(spec(data, judge="judgetest/keyword"), model=expert, progress=False)
    s = result.summary
    assert judges.calls("keyword") == CRITERIA - 1  # c's one criterion was not asked
    assert s["invalid"] == 1 and s["n"] == 4 and s["graded"] == 3
    assert s["score_unclipped"] == pytest.approx((0.125 - 1.5 + 0.0 + 1.0) / 4)
    with Store() as store:
        c = next(x for x in store.samples(result.run_id) if x.item_id == "c")
    assert c.status == "invalid" and c.score is None and c.reason == "empty response"
