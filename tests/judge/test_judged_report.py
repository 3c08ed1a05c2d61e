"""Judged scores as the reports and `medq show` print them: the clipped score and the
unclipped mean, the seeded interval, graded and ungraded counts, tag scores, the jury's
per-judge means and agreement, and each judge's meta-evaluation (or that it has none)."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from judge_helpers import Judges, write_rubric_file
from typer.testing import CliRunner

from medq.cli import app
from medq.judge.meta import MetaEvaluation, save_meta
from medq.prompts import prompt_hash
from medq.report import build_report
from medq.runner import EvalSpec, ModelRef, evaluate
from medq.scoring.metrics import summarize
from medq.store import Store
from medq.testing.judges import rubric_judge
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.testing.scripted import ScriptedModel, table

runner = CliRunner()
ITEMS = [
    {"id": "a", "messages": [{"role": "user", "content": "question a"}],
     "rubric": [(5, "mentions X", ["axis:accuracy"]), (3, "mentions Y", ["axis:completeness"]),
                (-4, "mentions Z", ["axis:accuracy"])], "tags": ["theme:t1"]},
    {"id": "b", "messages": [{"role": "user", "content": "question b"}],
     "rubric": [(2, "mentions X", ["axis:accuracy"]), (-3, "mentions Z", ["axis:accuracy"])],
     "tags": ["theme:t1"]},
    {"id": "c", "messages": [{"role": "user", "content": "question c"}],
     "rubric": [(4, "mentions Y", ["axis:completeness"])], "tags": ["theme:t2"]},
    {"id": "d", "messages": [{"role": "user", "content": "question d"}],
     "rubric": [(1, "mentions X", ["axis:accuracy"])], "tags": ["theme:t2"]},
]
REPLIES = {"question a": "X and Z", "question b": "Z", "question c": "Y", "question d": "X"}
# Two judges who split on every "mentions Y": a and c are ungraded (no majority of two);
# b scores -3/2 and d 1/1, so the mean is -0.25 and the clipped score 0. Each judge's own
# mean: keyword a 1/8, b -3/2, c 1, d 1 (0.15625); contrary-on-Y a 4/8, b -3/2, c 0, d 1
# (0.0). Over the 7 criteria they agree on 5: kappa (5/7 - 29/49) / (20/49) = 0.3.
MEAN, KEYWORD_MEAN, CONTRARY_MEAN, KAPPA = -0.25, 0.15625, 0.0, 0.3


def keyword(reply: str, criterion: str) -> bool:
    return criterion.rsplit(" ", 1)[-1] in reply


@pytest.fixture
def run_id(tmp_path: Path, judges: Judges) -> str:
    judges["keyword"] = rubric_judge(keyword)
    judges["contrary"] = rubric_judge(
        lambda reply, c: not keyword(reply, c) if c.endswith("Y") else keyword(reply, c))
    data = write_rubric_file(tmp_path / "2025-05-07-06-14-12_oss_eval.jsonl", ITEMS)
    with Store() as store:
        save_meta(MetaEvaluation(("judgetest/keyword",), prompt_hash("judge_rubric"), 10, 9, 1,
                                 {"macro_f1": 0.7, "kappa": 0.4, "pairs": 20}), store)
    spec = EvalSpec("healthbench", "scripted/m", "respond", data=str(data), seed=3,
                    roles={"judge": ModelRef("judgetest/keyword"),
                           "judge_2": ModelRef("judgetest/contrary")})
    return evaluate(spec, model=ScriptedModel(table(REPLIES)), progress=False).run_id


def interval(run_id: str) -> str:
    """The run's score interval as the reports print it (its values: `summarize`)."""
    with Store(readonly=True) as store:
        s = summarize(store.run(run_id), list(store.samples(run_id)))
    return f"{100 * s['score_ci_low']:.1f}–{100 * s['score_ci_high']:.1f}"


def text_of(html: str, section: str) -> str:
    found = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
    assert found, f"no section {section}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_show_json_carries_the_judged_keys_and_each_judges_meta(run_id: str) -> None:
    shown = runner.invoke(app, ["show", run_id, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    s = json.loads(shown.stdout)
    assert s["score"] == 0.0 and s["score_unclipped"] == pytest.approx(MEAN)
    assert s["accuracy"] is None and s["ci_low"] == s["score_ci_low"] == 0.0
    assert s["ci_high"] == s["score_ci_high"] and s["score_ci_seed"] == 3
    assert (s["graded"], s["ungraded"], s["ungraded_rate"]) == (2, 2, 0.5)
    judges = s["judges"]
    assert judges["prompt"] == "judge_rubric"
    assert judges["prompt_hash"] == prompt_hash("judge_rubric")
    keyword_judge, contrary = judges["per_judge"]["judge"], judges["per_judge"]["judge_2"]
    assert keyword_judge["mean_score"] == pytest.approx(KEYWORD_MEAN)
    assert contrary["mean_score"] == pytest.approx(CONTRARY_MEAN)
    assert (keyword_judge["meta"]["macro_f1"], keyword_judge["meta"]["kappa"],
            keyword_judge["meta"]["judged"]) == (0.7, 0.4, 9)
    assert contrary["meta"] is None and judges["meta"] is None  # none for judge_2, the jury
    assert judges["agreement"]["kappa"]["judge vs judge_2"]["kappa"] == pytest.approx(KAPPA)


def test_show_text_puts_the_meta_eval_or_its_absence_beside_each_judge(run_id: str) -> None:
    text = runner.invoke(app, ["show", run_id]).stdout
    assert f"score: 0.0% (95% CI {interval(run_id)}, item bootstrap, seed 3; unclipped mean " \
        f"-25.0%)" in text
    assert "graded 2, ungraded 2 (50.0%)" in text
    line = next(x for x in text.splitlines() if "judge judgetest/keyword" in x)
    assert "own mean 15.6%" in line and "meta-eval macro-F1 0.70, κ 0.40, n 9" in line
    line = next(x for x in text.splitlines() if "judge_2 judgetest/contrary" in x)
    assert "own mean 0.0%" in line and "no meta-evaluation for this judge" in line
    assert "jury: no meta-evaluation for this jury" in text
    # Ungraded items are stored: the run is whole, not "2 of 4 items (incomplete)".
    assert "status: finished, 4 of 4 items" in text


def test_markdown_report_shows_the_judged_score_honestly(run_id: str) -> None:
    with Store(readonly=True) as store:
        md = build_report(store, [run_id], "markdown", progress=False)
        s = json.loads(build_report(store, [run_id], "json", progress=False))["runs"][0][
            "summary"]
    row = next(x for x in md.splitlines() if x.startswith("| 1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # A rubric run has no accuracy: its accuracy and interval cells are empty, never the
    # score's interval under an accuracy header; the score has its own cell.
    header = [c.strip() for c in md.splitlines()[row_index(md) - 2].strip("|").split("|")]
    assert cells[header.index("accuracy %")] == "—" and cells[header.index("95% CI")] == "—"
    assert cells[header.index("judged score % (95% CI)")] == f"0.0 ({interval(run_id)})"
    assert cells[header.index("ungraded")] == "2 of 4 (50.0%)"
    assert cells[header.index("items")] == "4 of 4" and "incomplete" not in md
    judged = md[md.index("## Judged scores"):]
    assert f"| 1 | 0.0 | -25.0 | {interval(run_id)} | 3 | 2 | 2 (50.0%) | 7 (2 ungraded) |" \
        in judged
    assert "| theme | t1 | 0.0 | -150.0 | 1 |" in judged  # only b is graded in t1
    assert "| axis | accuracy |" in judged
    assert "| judge | judgetest/keyword | 15.6 | 4 | 7 | 0 | 0 | 0.70 | 0.40 | 9 (20 pairs) |" \
        in judged
    assert "| judge_2 | judgetest/contrary | 0.0 | 4 | 7 | 0 | 0 | no meta-evaluation for " \
        "this judge |" in judged
    alpha = s["judges"]["agreement"]["alpha"]
    assert f"judge vs judge_2 κ 0.30 (n=7); Krippendorff's α {alpha:.2f}; disagreement " \
        "28.6% of 7 criteria" in judged
    assert "the jury as a whole: no meta-evaluation for this jury" in judged


def row_index(md: str) -> int:
    return next(i for i, x in enumerate(md.splitlines()) if x.startswith("| 1 |"))


def test_html_report_shows_the_judged_score_honestly(run_id: str) -> None:
    with Store(readonly=True) as store:
        html = build_report(store, [run_id], progress=False)
    summary = text_of(html, "summary")
    ci = interval(run_id)
    assert f"0.0 ({ci})" in summary and "2 of 4 (50.0%)" in summary
    judged = text_of(html, "judged")
    assert f"1 0.0 -25.0 {ci} 3 2 2 (50.0%) 7 (2 ungraded)" in judged
    assert "judge judgetest/keyword 15.6 4 7 0 0 0.70 0.40 9 (20 pairs)" in judged
    assert "judge_2 judgetest/contrary 0.0 4 7 0 0 no meta-evaluation for this judge" in judged
    assert "judge vs judge_2 κ 0.30 (n=7)" in judged and "Krippendorff" in judged
    assert "theme t1 0.0 -150.0 1" in judged


def test_judge_meta_is_kept_in_the_store(medq_home: Path, tmp_path: Path) -> None:
    rows = [{"prompt": [{"role": "user", "content": "fever?"}], "completion": "fluids",
             "rubric": "[5] mentions fluids", "category": "cluster:a",
             "binary_labels": [True, False], "completion_id": "c1"}]
    path = tmp_path / "meta.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with FakeOpenAIServer(fixed_responder('{"criteria_met": true}')) as judge:
        done = runner.invoke(app, ["judge", "meta", "--data", str(path), "--judge", "openai/j",
                                   "--judge-base-url", judge.base_url,
                                   "--judge-api-key-env", "HOME"])
    assert done.exit_code == 0, done.output
    with Store(readonly=True) as store:
        saved = store.judge_meta(["openai/j"], prompt_hash("judge_rubric"))
        assert store.judge_meta(["openai/other"], prompt_hash("judge_rubric")) is None
        assert store.judge_meta(["openai/j"], "0" * 16) is None  # another prompt
    assert saved is not None and saved["judged"] == 1 and saved["overall"]["pairs"] == 2
    assert not (medq_home / "judge_meta").exists()  # in the store, not beside it
