"""`medq tune-prompt`: formats sampled from a grammar, tuned on dev items only."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medq.cli import app
from medq.runfile import load_runfile
from medq.strategies.formatted import render_format
from medq.tasks.base import load_task
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.tuning import sample_formats


def test_formats_are_seeded_distinct_and_start_with_the_default() -> None:
    first = sample_formats(8, seed=0)
    assert first == sample_formats(8, seed=0) and first != sample_formats(8, seed=1)
    assert len({tuple(sorted(f.items())) for f in first}) == 8
    assert first[0]["layout"] == "dot" and first[0]["shots"] == 0


def test_a_format_renders_every_option_in_its_layout() -> None:
    q = load_task("medqa", sample=True).questions[0]
    text = render_format(q, layout="paren", separator="newline", prefix="q", header="bare",
                         instruction="answer_line")
    assert text.startswith("Q: ") and all(f"({k}) {v}" in text for k, v in q.options.items())
    assert "Answer: X" in text


def test_tuning_never_sends_a_test_item_and_freezes_the_best(
    medq_home: Path, tmp_path: Path
) -> None:
    dev = load_task("medqa_dev", sample=True).questions
    test = load_task("medqa", sample=True).questions
    test_stems = {q.stem for q in test} - {q.stem for q in dev}
    out = tmp_path / "best.toml"
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        result = CliRunner().invoke(app, [
            "tune-prompt", "--task", "medqa_dev", "--sample", "--model", "openai/m",
            "--base-url", server.base_url, "--api-key-env", "HOME", "--formats", "4",
            "--limit", "5", "-o", str(out)])
        assert result.exit_code == 0, result.output
        bodies = [str(b["messages"]) for b in server.bodies]
    assert len(bodies) >= 4 * 5
    assert not any(stem in body for body in bodies for stem in test_stems)
    assert "format" in result.output and "min" in result.output
    run = load_runfile(out)
    assert run.spec.strategy.startswith("formatted:") and run.spec.task == "medqa_dev"


def test_bad_counts_are_one_line_errors() -> None:
    for flag in ("--formats", "--limit"):
        out = CliRunner().invoke(app, ["tune-prompt", "--task", "medqa_dev", "--model",
                                       "scripted/first", "--sample", flag, "0"])
        assert out.exit_code == 2 and "Traceback" not in out.output
        assert len(out.stderr.strip().splitlines()) == 1
