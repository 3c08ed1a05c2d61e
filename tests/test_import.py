"""`medq import`: released predictions re-scored by medq, and the published tables recovered.

The published figures come back from the authors' released files in ../shared/data through
`medq import` + `medq show` (or the Python API), beside medq's own strict figures.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.importers import ImportDataError, import_predictions
from medq.runner import rescore
from medq.store import Store
from medq.tasks.base import load_task

runner = CliRunner()


def medq(*args: str | Path, code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


def show(run: str = "last") -> dict:
    return json.loads(medq("show", run, "--format", "json"))


def pct(value: float, digits: int = 2) -> float:
    return round(100 * value, digits)


# --- MIRAGE (Xiong et al., Findings of ACL 2024), LLM comparison table -------------------

MIRAGE_TASKS = ("mmlu_medical", "medqa", "medmcqa", "pubmedqa_noctx", "bioasq_yn")
MIRAGE_PAPER = {
    "cot__OpenAI_gpt-4-32k": (89.44, 83.97, 69.88, 39.60, 84.30),
    "rag_32__OpenAI_gpt-4-32k": (87.24, 82.80, 66.65, 70.60, 92.56),
    "rag_32__OpenAI_gpt-35-turbo-16k": (75.48, 66.61, 58.04, 67.40, 90.29),
}
# medq's extractor: unparseable answers are invalid, never "A" (accuracy %, invalid count).
# Extractor 2 reads JSON answers that name several options ("A. Bacteria, B. Viruses, ...",
# "C. Leishmania, D. Babesia") as several answers, where extractor 1 took the first letter,
# and "B. 225" (225 being option C) as a conflict; each changed item was read by hand (see
# tests/scoring/test_extract.py). Extractor 1: CoT (89.07, 82.95, 68.25, 39.60, 83.82) with
# (13, 27, 195, 0, 5) invalid; MedRAG (86.96, 81.93, 62.08, 70.40, 92.56), (33, 35, 548, 1, 1).
MIRAGE_STRICT = {
    "cot__OpenAI_gpt-4-32k": ((88.98, 82.88, 67.99, 39.60, 83.82), (15, 28, 217, 0, 5)),
    "rag_32__OpenAI_gpt-4-32k": ((86.69, 81.85, 61.75, 70.40, 92.56), (37, 36, 597, 1, 1)),
}


@pytest.mark.parametrize("release", sorted(MIRAGE_PAPER))
def test_mirage_published_table(shared_data: Path, release: str) -> None:
    predictions = shared_data / "mirage" / "predictions" / f"{release}.jsonl.gz"
    benchmark = shared_data / "mirage" / "benchmark.json"
    for task, published in zip(MIRAGE_TASKS, MIRAGE_PAPER[release], strict=True):
        out = medq("import", predictions, "--task", task, "--model", release,
                   "--format", "mirage", "--data", benchmark)
        assert f"paper's own parser: {published:.2f}%" in out
        summary = show()
        assert summary["task"] == task and summary["strategy"] == "released:reader=option"
        assert pct(summary["paper_accuracy"]) == published, task
        assert summary["n"] == summary["paper_n"] == summary["n_items"]
    if release in MIRAGE_STRICT:
        strict, invalid = MIRAGE_STRICT[release]
        with Store() as store:
            runs = {r["task"]: r["run_id"] for r in store.runs()}
        for task, accuracy, n_invalid in zip(MIRAGE_TASKS, strict, invalid, strict=True):
            summary = show(runs[task])
            assert (pct(summary["accuracy"]), summary["invalid"]) == (accuracy, n_invalid), task


def test_mirage_show_puts_both_figures_side_by_side(shared_data: Path) -> None:
    medq("import", shared_data / "mirage/predictions/cot__OpenAI_gpt-4-32k.jsonl.gz",
         "--task", "bioasq_yn", "--model", "gpt-4-32k", "--format", "mirage",
         "--data", shared_data / "mirage/benchmark.json")
    text = medq("show", "last")
    assert ("paper's own parser: 84.30% (MIRAGE maps unparseable answers to 'A'); "
            "medq: 83.82% with 5 invalid") in text
    assert "618 of 618 task items; 0 missing" in text
    rows = [json.loads(line) for line in medq("export", "last").splitlines()]
    invalid = [r for r in rows if r["status"] == "invalid"]
    assert len(invalid) == 5 and all(r["reason"] for r in invalid)
    paper = [json.loads(r["details"])["paper"] for r in invalid]
    assert all(p["choice"] in {"A", "B"} for p in paper)  # the paper read an answer anyway


def test_mirage_pubmedqa_with_context_is_refused(shared_data: Path) -> None:
    err = medq("import", shared_data / "mirage/predictions/cot__OpenAI_gpt-4-32k.jsonl.gz",
               "--task", "pubmedqa", "--model", "m", "--format", "mirage",
               "--data", shared_data / "pubmedqa", code=2)
    assert "pubmedqa_noctx" in err


# --- MedAgentsBench (Tang et al. 2025), zero-shot Full / Hard table ----------------------

MAB_COLUMNS = ("medqa", "pubmedqa", "medmcqa", "medbullets", "mmlu", "mmlu-pro", "afrimedqa")
MAB_MODELS = {
    "GPT-4o-mini": "gpt-4o-mini", "GPT-4o": "gpt-4o", "DeepSeek-V3": "DeepSeek-V3",
    "o1-mini": "o1-mini", "o3-mini": "o3-mini", "QwQ-32B": "QwQ-32B-Preview",
    "DeepSeek-R1": "DeepSeek-R1", "Llama-3.3-70B": "Llama-3.3-70B-Instruct-Turbo",
    "Claude-3.5-Sonnet": "claude-3-5-sonnet", "Claude-3.5-Haiku": "claude-3-5-haiku",
}


def published_medagentsbench(shared_data: Path) -> dict[tuple[str, str, str], float]:
    """(model file name, source folder, split) -> accuracy, read from the paper's LaTeX."""
    path = (shared_data / "medagentsbench"
            / "published_tables_from_plots_table1_performance_ipynb.txt")
    table = path.read_text(encoding="utf-8").split("===== cell 2 output =====")[1]
    published = {}
    for line in table.splitlines():
        row = re.match(r"\s*\\textsc\{([^}]+)\}\s*&(.*)\\\\", line)
        values = re.findall(r"\d+\.\d", row.group(2)) if row else []
        if row is None or len(values) != 2 * len(MAB_COLUMNS):
            continue
        model = MAB_MODELS[row.group(1)]
        for i, source in enumerate(MAB_COLUMNS):
            published[model, source, "test"] = float(values[2 * i])
            published[model, source, "test_hard"] = float(values[2 * i + 1])
    assert len(published) == 2 * len(MAB_COLUMNS) * len(MAB_MODELS)
    return published


def mab_import(shared_data: Path, model: str, source: str, split: str, store: Store) -> dict:
    task = "medagentsbench_" + source.replace("-", "_") + ("_hard" if split == "test_hard" else "")
    predictions = shared_data / "medagentsbench/outputs_slim" / source / (
        f"{model}-{source}-{split}-zero_shot.jsonl")
    return import_predictions(predictions, task=task, model=model, fmt="medagentsbench",
                              data=shared_data / "medagentsbench/data", store=store).summary


def test_medagentsbench_hard_sets_all_models(shared_data: Path) -> None:
    published = published_medagentsbench(shared_data)
    with Store() as store:
        for (model, source, split), figure in published.items():
            if split != "test_hard":
                continue
            summary = mab_import(shared_data, model, source, split, store)
            # Only letters were released, all of them options: both readings agree.
            assert pct(summary["paper_accuracy"], 1) == figure, (model, source)
            assert pct(summary["accuracy"], 1) == figure, (model, source)


def test_medagentsbench_full_sets(shared_data: Path) -> None:
    published = published_medagentsbench(shared_data)
    with Store() as store:
        for source in MAB_COLUMNS:
            summary = mab_import(shared_data, "gpt-4o-mini", source, "test", store)
            assert pct(summary["paper_accuracy"], 1) == published["gpt-4o-mini", source, "test"]
            assert pct(summary["accuracy"], 1) == published["gpt-4o-mini", source, "test"]
    assert published["gpt-4o-mini", "medqa", "test"] == 73.4


def test_medagentsbench_cli_keeps_tokens_and_time(shared_data: Path) -> None:
    predictions = (shared_data / "medagentsbench/outputs_slim/medqa/"
                   "o3-mini-medqa-test-zero_shot.jsonl")
    out = medq("import", predictions, "--task", "medagentsbench_medqa", "--model", "o3-mini",
               "--format", "medagentsbench", "--data", shared_data / "medagentsbench/data")
    assert "paper's own parser: 92.69%" in out
    summary = show()
    assert pct(summary["accuracy"], 1) == pct(summary["paper_accuracy"], 1) == 92.7
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert summary["prompt_tokens"] == sum(r["token_usage"]["prompt_tokens"] for r in records)
    assert summary["completion_tokens"] == sum(
        r["token_usage"]["completion_tokens"] for r in records)
    first = json.loads(json.loads(medq("export", "last").splitlines()[0])["details"])
    assert first["time_s"] == pytest.approx(records[0]["time_elapsed"])


def test_medagentsbench_counts_missing_items(shared_data: Path) -> None:
    # Claude-3.5-Sonnet's released MedMCQA file has 2815 of 2816 lines; the paper's 68.8 is
    # over those 2815, and medq says one item is missing rather than hiding it.
    predictions = (shared_data / "medagentsbench/outputs_slim/medmcqa/"
                   "claude-3-5-sonnet-medmcqa-test-zero_shot.jsonl")
    out = medq("import", predictions, "--task", "medagentsbench_medmcqa", "--model", "claude",
               "--format", "medagentsbench", "--data", shared_data / "medagentsbench/data")
    assert "2815 of 2816 task items; 1 missing" in out
    summary = show()
    assert (summary["n"], summary["n_items"], pct(summary["paper_accuracy"], 1)) == (
        2815, 2816, 68.8)


def test_medagentsbench_file_for_another_split_is_refused(shared_data: Path) -> None:
    predictions = (shared_data / "medagentsbench/outputs_slim/medqa/"
                   "gpt-4o-medqa-test_hard-zero_shot.jsonl")
    err = medq("import", predictions, "--task", "medagentsbench_medqa", "--model", "gpt-4o",
               "--format", "medagentsbench", "--data", shared_data / "medagentsbench/data",
               code=2)
    assert "test_hard" in err and "full test set" in err


# --- BiasMedQA (Schmidgall et al. 2024), GPT-4-0613 per condition ------------------------

def biasmedqa(shared_data: Path, condition: str) -> tuple[str, dict]:
    out = medq("import", shared_data / "biasmedqa/model_outputs_all_conditions.jsonl.gz",
               "--task", "medqa_5opt", "--model", "gpt-4-0613", "--format", "biasmedqa",
               "--condition", condition, "--data", shared_data / "medqa_usmle")
    return out, show()


@pytest.mark.parametrize(
    ("condition", "published", "strict"),
    [("no_bias", 72.66, 72.66), ("bias_output_false_consensus", 62.45, 62.45)],
)
def test_biasmedqa_gpt4(shared_data: Path, condition: str, published: float,
                        strict: float) -> None:
    out, summary = biasmedqa(shared_data, condition)
    assert f"paper's own parser: {published:.2f}%" in out
    assert (summary["n"], pct(summary["paper_accuracy"]), pct(summary["accuracy"])) == (
        1273, published, strict)


def test_biasmedqa_one_shot_uses_record_no_where_idx_was_lost(shared_data: Path) -> None:
    rescored = json.loads((shared_data / "biasmedqa/rescored_accuracy_per_file.json").read_text())
    published = next(v["accuracy"] for v in rescored.values()
                     if (v["model"], v["condition"]) == ("gpt-4-0613", "bias_output_one-shot"))
    _, summary = biasmedqa(shared_data, "one-shot")
    assert (summary["n"], pct(summary["paper_accuracy"])) == (1273, published)
    rows = [json.loads(r["details"]) for r in map(json.loads, medq("export", "last").splitlines())]
    assert sum(d.get("id_from") == "record_no" for d in rows) == 56


def test_biasmedqa_unknown_condition_lists_the_known_ones(shared_data: Path) -> None:
    err = medq("import", shared_data / "biasmedqa/model_outputs_all_conditions.jsonl.gz",
               "--task", "medqa_5opt", "--model", "gpt-4-0613", "--format", "biasmedqa",
               "--condition", "nonsense", "--data", shared_data / "medqa_usmle", code=2)
    assert "bias_output_false_consensus" in err


# --- the generic jsonl format (no shared data needed: the bundled MedQA sample) ----------

def write_lines(path: Path, lines: list[object]) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def sample_questions() -> list:
    return list(load_task("medqa", sample=True).questions)


def test_jsonl_responses_and_choices(tmp_path: Path) -> None:
    q = sample_questions()
    wrong = next(letter for letter in q[2].options if letter != q[2].gold)
    path = write_lines(tmp_path / "preds.jsonl.gz", [
        {"id": q[0].id, "response": f"Reasoning...\nAnswer: {q[0].gold}",
         "prompt_tokens": 100, "completion_tokens": 20},
        {"id": q[1].id, "response": "I cannot decide between these."},
        {"id": q[2].id, "choice": wrong, "latency_s": 1.5},
        {"id": q[3].id, "choice": "E"},
    ])
    out = medq("import", path, "--task", "medqa", "--sample", "--model", "mine")
    assert "4 of 50 task items; 46 missing (not scored)" in out
    assert "paper's own parser" not in out  # no verdicts of its own in this file
    summary = show()
    assert (summary["n"], summary["correct"], summary["invalid"], summary["calls"]) == (
        4, 1, 2, 4)
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (100, 20)
    assert "paper_accuracy" not in summary
    rows = {r["item_id"]: r for r in map(json.loads, medq("export", "last").splitlines())}
    assert rows[q[1].id]["reason"] and rows[q[1].id]["choice"] is None
    assert rows[q[2].id]["choice"] == wrong and rows[q[2].id]["correct"] == 0
    assert "not an option" in rows[q[3].id]["reason"]


def test_jsonl_paper_verdicts_are_kept_beside_medqs(tmp_path: Path) -> None:
    q = sample_questions()
    path = write_lines(tmp_path / "preds.jsonl", [
        {"id": q[0].id, "response": "unclear", "paper_choice": "A", "paper_correct": True},
        {"id": q[1].id, "response": f"Answer: {q[1].gold}", "paper_correct": True},
    ])
    medq("import", path, "--task", "medqa", "--sample", "--model", "mine")
    summary = show()
    assert (summary["paper_correct"], summary["paper_n"], summary["correct"]) == (2, 2, 1)
    assert "medq: 50.00% with 1 invalid" in medq("show", "last")


def test_import_twice_changes_nothing(tmp_path: Path) -> None:
    q = sample_questions()
    path = write_lines(tmp_path / "preds.jsonl",
                       [{"id": x.id, "response": f"Answer: {x.gold}"} for x in q[:10]])
    first = import_predictions(path, task="medqa", model="m", sample=True)
    again = import_predictions(path, task="medqa", model="m", sample=True)
    assert again.run_id == first.run_id and again.run_id.startswith("medqa-released-")
    assert (first.existed, again.existed) == (False, True)
    assert again.summary == first.summary
    with Store() as store:
        assert store.count_calls() == 10 and len(store.runs()) == 1
        call = store.get_call(next(store.samples(first.run_id))["call_keys"][0])
    # One pipeline: the release is served as a model, its calls stored like any other.
    assert call is not None and call.kind == "chat"
    assert call.request["messages"][0]["content"].endswith(q[0].id)
    assert call.response["generations"][0]["text"] == f"Answer: {q[0].gold}"
    with Store() as store:
        info = store.run(first.run_id)["info"]
        assert info["imported_from"] == str(path.resolve())
        assert info["endpoint"] == f"release:jsonl:{info['sha256']}"
        again_summary = rescore(first.run_id, store=store).summary
    assert {k: v for k, v in again_summary.items() if k != "rescore"} == first.summary
    other = import_predictions(path, task="medqa", model="other-name", sample=True)
    assert other.run_id != first.run_id


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ({"response": "A"}, "line 2: field 'id' is missing"),
        ({"id": "0001", "response": 3}, "line 2: field 'response' must be a string, not int"),
        ({"id": "0001"}, "line 2: give exactly one of field 'response'"),
        ({"id": "0001", "response": "A", "choice": "A"}, "line 2: give exactly one"),
        ({"id": "0001", "choice": "A", "prompt_tokens": -1}, "field 'prompt_tokens' must not"),
        ({"id": "0001", "choice": "A", "paper_correct": "yes"}, "field 'paper_correct' must be"),
        ({"id": "9999", "response": "A"}, "line 2: item '9999' is not in task 'medqa'"),
        ({"id": "0000", "response": "A"}, "line 2: item '0000' appears again (first at line 1)"),
    ],
)
def test_jsonl_malformed_input_names_file_line_and_field(
    tmp_path: Path, line: object, message: str
) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [{"id": "0000", "response": "A"}, line])
    err = medq("import", path, "--task", "medqa", "--sample", "--model", "m", code=2)
    assert f"{path}, {message}" in err if message.startswith("line") else message in err
    with pytest.raises(ImportDataError):
        import_predictions(path, task="medqa", model="m", sample=True)
    with Store() as store:
        assert store.runs() == []  # nothing half-imported


def test_formats_not_yet_available_or_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medq.importers import _engine

    monkeypatch.setitem(_engine.NOT_YET, "later", "it comes with a later task")
    path = write_lines(tmp_path / "preds.jsonl", [{"id": "0000", "response": "A"}])
    args = ("import", path, "--task", "medqa", "--sample", "--model", "m", "--format")
    assert "'later' is not available yet: it comes" in medq(*args, "later", code=2)
    assert "unknown import format 'nope'" in medq(*args, "nope", code=2)
    assert "does not exist" in medq("import", tmp_path / "absent.jsonl", "--task", "medqa",
                                    "--sample", "--model", "m", code=2)


def test_medq_rescore_works_on_imported_runs(tmp_path: Path) -> None:
    q = sample_questions()
    path = write_lines(tmp_path / "preds.jsonl",
                       [{"id": x.id, "response": f"Answer: {x.gold}"} for x in q[:3]])
    medq("import", path, "--task", "medqa", "--sample", "--model", "mine")
    before = show()
    assert "rescored" in medq("rescore", "last")
    after = show()
    assert (after["n"], after["correct"]) == (before["n"], before["correct"]) == (3, 3)
