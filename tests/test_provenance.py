"""Numbers that cannot drift: run identity, scoring as its own stage, results by version."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import medq.prompts
import medq.scoring.extract
from medq.cli import app
from medq.runner import EvalSpec, evaluate, rescore, run_id_for
from medq.store import MIGRATIONS, Store
from medq.strategies._shared.spec import StrategySpec
from medq.strategies.base import normalize
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.testing.scripted import ScriptedModel

COT = EvalSpec(task="medqa", model="scripted/test", strategy="cot", sample=True, limit=5)


def right_answers(request) -> str:
    """A reply that is the correct letter for the sample's items (via the prompt text)."""
    return "Let me think.\nThe answer is B."


@pytest.fixture
def store(medq_home: Path):
    with Store() as s:
        yield s


def test_equivalent_spellings_are_one_run() -> None:
    spellings = [
        "self_consistency:base=cot,n=2",
        "self_consistency(base=cot(),n=2)",
        "self_consistency(n=2, base=cot(seed=0), temperature=0.7)",
        "self_consistency:n=2,temperature=0.7,seed=0",
    ]
    normal = {str(normalize(StrategySpec.parse(s), seed=0)) for s in spellings}
    assert len(normal) == 1
    ids = {run_id_for(EvalSpec("medqa", "scripted/test", s, sample=True), ScriptedModel(str))
           for s in spellings}
    assert len(ids) == 1
    other = run_id_for(EvalSpec("medqa", "scripted/test", "self_consistency:n=3", sample=True),
                       ScriptedModel(str))
    assert other not in ids


def test_nested_strategy_prompts_are_in_the_identity(store: Store) -> None:
    result = evaluate(EvalSpec("medqa", "scripted/test", "self_consistency:n=2", sample=True,
                               limit=2), store=store, model=ScriptedModel(right_answers),
                      progress=False)
    info = store.run(result.run_id)["info"]
    assert {"system", "cot"} <= set(info["prompts"])
    assert "prompts_undeclared" not in info


def test_every_declared_prompt_exists_and_rendered_ones_are_declared(store: Store) -> None:
    from medq.registry import strategies
    from medq.strategies.base import strategy_info

    for name in strategies.names():
        for prompt in strategy_info(name)["prompts"]:
            assert medq.prompts.prompt_hash(prompt), (name, prompt)
    for strategy in ("direct", "cot", "self_consistency:n=2", "few_shot:k=2",
                     "cot_few_shot:k=2", "ensemble_refinement:n=2,m=2", "self_refine:rounds=1",
                     "multi_persona:rounds=1", "verification_of_choice"):
        result = evaluate(EvalSpec("medqa", "scripted/test", strategy, sample=True, limit=1),
                          store=store, model=ScriptedModel(right_answers), progress=False)
        assert "prompts_undeclared" not in store.run(result.run_id)["info"], strategy


def test_endpoint_from_the_environment_is_part_of_the_run(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = EvalSpec(task="medqa", model="openai/m", strategy="direct", sample=True, limit=3)
    with FakeOpenAIServer(fixed_responder("Answer: B")) as a, \
            FakeOpenAIServer(fixed_responder("Answer: C")) as b:
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        monkeypatch.setenv("OPENAI_BASE_URL", a.base_url)
        first = evaluate(spec, store=store, progress=False)
        monkeypatch.setenv("OPENAI_BASE_URL", b.base_url)
        second = evaluate(spec, store=store, progress=False)
        assert first.run_id != second.run_id
        assert a.count == 3 and b.count == 3 and second.new_calls == 3
        choices = {s.choice for s in store.samples(second.run_id)}
        assert choices == {"C"}
        assert store.run(second.run_id)["info"]["endpoint"] == b.base_url


def test_a_changed_data_file_is_a_new_run(store: Store, tmp_path: Path) -> None:
    from medq.tasks.base import load_task

    rows = []
    for q in load_task("medqa", sample=True).questions[:4]:
        rows.append({"question": q.stem, "options": dict(q.options), "answer_idx": q.gold,
                     "answer": q.options[q.gold], "meta_info": "step1"})
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = EvalSpec(task="medqa", model="scripted/test", strategy="direct", data=str(data))
    first = evaluate(spec, store=store, model=ScriptedModel(right_answers), progress=False)
    rows[0]["question"] += " (edited)"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    second = evaluate(spec, store=store, model=ScriptedModel(right_answers), progress=False)
    assert first.run_id != second.run_id
    assert store.run(first.run_id)["info"]["data_hash"] != \
        store.run(second.run_id)["info"]["data_hash"]
    # The same content from another path is the same run.
    moved = tmp_path / "copy" / "test.jsonl"
    moved.parent.mkdir()
    moved.write_text(data.read_text())
    third = evaluate(EvalSpec(task="medqa", model="scripted/test", strategy="direct",
                              data=str(moved)), store=store, model=ScriptedModel(right_answers),
                     progress=False)
    assert third.run_id == second.run_id and third.new_calls == 0


def _edit_prompt(monkeypatch: pytest.MonkeyPatch, name: str, extra: str) -> None:
    original = medq.prompts._template_text

    def edited(prompt: str) -> str:
        text = original(prompt)
        return text + extra if prompt == name else text

    monkeypatch.setattr(medq.prompts, "_template_text", edited)


def test_rescore_after_a_prompt_edit_keeps_every_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = evaluate(COT, store=store, model=ScriptedModel(right_answers), progress=False)
    before = [(s.item_id, s.choice, s.correct) for s in store.samples(result.run_id)]
    assert len(before) == 5 and all(c == "B" for _, c, _ in before)
    calls = store.count_calls()
    _edit_prompt(monkeypatch, "cot", "\nOne more line.")
    again = rescore(result.run_id, store=store)
    after = [(s.item_id, s.choice, s.correct) for s in store.samples(result.run_id)]
    assert after == before and store.count_calls() == calls
    assert again.summary["errors"] == 0 and again.summary["rescore"]["kept"] == {}
    # The edit makes a different run for a new eval, never a mixed one.
    assert run_id_for(COT, ScriptedModel(str)) != result.run_id


def test_rescore_of_a_vote_reads_every_sample_again(store: Store) -> None:
    replies = iter(["The answer is A.", "The answer is B.", "The answer is B."] * 2)
    spec = EvalSpec("medqa", "scripted/test", "self_consistency:n=3", sample=True, limit=2)
    result = evaluate(spec, store=store, model=ScriptedModel(lambda r: next(replies)),
                      progress=False)
    before = [(s.choice, s.confidence, s.details["votes"]) for s in store.samples(result.run_id)]
    again = rescore(result.run_id, store=store)
    after = [(s.choice, s.confidence, s.details["votes"]) for s in store.samples(result.run_id)]
    assert after == before == [("B", pytest.approx(2 / 3), {"A": 1, "B": 2})] * 2
    assert again.new_calls == 0


def test_rescore_with_a_new_extractor_keeps_the_old_results(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = evaluate(COT, store=store, model=ScriptedModel(right_answers), progress=False)
    old_version = medq.scoring.extract.EXTRACTOR_VERSION
    monkeypatch.setattr(medq.scoring.extract, "EXTRACTOR_VERSION", "999")
    rescore(result.run_id, store=store)
    assert store.extractor_versions(result.run_id) == [old_version, "999"]
    assert store.extractor_of(result.run_id) == "999"
    assert len(list(store.samples(result.run_id, old_version))) == 5
    out = CliRunner().invoke(app, ["show", result.run_id, "--extractor", old_version,
                                   "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["extractor_version"] == old_version
    bad = CliRunner().invoke(app, ["show", result.run_id, "--extractor", "7"])
    assert bad.exit_code == 2 and "has results for extractor" in bad.stderr


def test_resume_under_a_new_extractor_rescores_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = EvalSpec(task="medqa", model="scripted/test", strategy="cot", sample=True, limit=3)
    first = evaluate(spec, store=store, model=ScriptedModel(right_answers), progress=False)
    monkeypatch.setattr(medq.scoring.extract, "EXTRACTOR_VERSION", "999")
    again = evaluate(spec, store=store, model=ScriptedModel(right_answers), progress=False)
    assert again.run_id == first.run_id and again.new_calls == 0
    assert {s.extractor for s in store.samples(first.run_id)} == {"999"}
    assert again.summary["n"] == 3


def test_legacy_items_that_cannot_replay_keep_their_result(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = evaluate(COT, store=store, model=ScriptedModel(right_answers), progress=False)
    # Make the rows look like a run stored before readings existed.
    store._db.execute("UPDATE samples SET reading = NULL")
    _edit_prompt(monkeypatch, "cot", "\nOne more line.")
    again = rescore(result.run_id, store=store)
    kept = again.summary["rescore"]["kept"]
    assert sum(kept.values()) == 5
    (why,) = kept
    assert "prompt 'cot' changed since the run" in why
    assert [s.choice for s in store.samples(result.run_id)] == ["B"] * 5
    assert again.summary["errors"] == 0


def test_show_json_carries_provenance(store: Store) -> None:
    result = evaluate(COT, store=store, model=ScriptedModel(right_answers), progress=False)
    out = CliRunner().invoke(app, ["show", result.run_id, "--format", "json"])
    assert out.exit_code == 0, out.output
    prov = json.loads(out.stdout)["provenance"]
    assert prov["endpoint"] == "scripted"
    assert len(prov["data_hash"]) == 64
    assert set(prov["prompts"]) == {"system", "cot"}
    assert prov["extractor_version"] == medq.scoring.extract.EXTRACTOR_VERSION
    assert prov["medq_version"] == medq.__version__
    assert prov["strategy"] == "cot:max_tokens=None,seed=0"


def test_a_store_of_the_previous_schema_migrates_and_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY)")
    name, sql = MIGRATIONS[0]
    db.executescript(sql)
    db.execute("INSERT INTO _migrations VALUES (?)", (name,))
    info = json.dumps({"extractor_version": "1", "endpoint": "x", "n_items": 1})
    db.execute("INSERT INTO runs VALUES ('r1', 1, 1, 'finished', 'medqa', 'openai/m', 'cot',"
               " '{}', ?, 2.5)", (info,))
    db.execute("INSERT INTO samples VALUES ('r1', 'q1', 0, 'ok', 'B', 'B', 1, 0, NULL, NULL,"
               " 'Answer: B', '{}', 1, 1, 10, 2, '[\"k\"]', 1)")
    db.commit()
    db.close()
    with Store(path) as store:
        (sample,) = store.samples("r1")
        assert (sample.item_id, sample.choice, sample.correct, sample.extractor) == \
            ("q1", "B", 1, "1")
        assert sample.call_keys == ("k",) and sample.reading is None
        assert store.runs()[0]["n_done"] == 1


def test_registry_refuses_a_silent_override() -> None:
    from medq.registry import DuplicateNameError, strategies

    with pytest.raises(DuplicateNameError, match="already registered"):
        @strategies.register("cot")
        def not_cot() -> None: ...


def test_public_surface_is_pinned() -> None:
    import medq

    assert medq.__all__ == [
        "Answer", "Capability", "Comparison", "Completion", "EvalSpec", "Extraction",
        "FatalModelError", "GenerationRequest", "Message", "Model", "ModelError", "Outcome",
        "PairComparison", "Question", "Reading", "RetryPolicy", "RunBusyError",
        "RunFailedError", "RunResult", "RunSettings", "SampleResult", "SettingError",
        "Status", "Store",
        "StrategySpec", "Task", "ToolCall", "aggregate", "bootstrap_ci", "breakdown",
        "build_report", "build_strategy", "calibration", "clustered_se", "compare_runs",
        "evaluate", "export_run", "extract_choice", "import_predictions", "load_model",
        "load_task", "open_retriever", "rescore", "summarize", "wilson_interval",
    ]
    for name in medq.__all__:
        assert getattr(medq, name) is not None, name


def test_one_seed_policy() -> None:
    from medq.seeds import item_rng, row_seed, wire_seed

    assert [wire_seed(3, i) for i in range(4)] == [3, 4, 5, 6]
    assert row_seed(0, 1, 0) != row_seed(0, 0, 1) and 0 <= row_seed(9, 9, 9) < 2**63
    assert item_rng(1, "q1", "shuffle").random() == item_rng(1, "q1", "shuffle").random()
    assert item_rng(1, "q1", "shuffle").random() != item_rng(1, "q2", "shuffle").random()
