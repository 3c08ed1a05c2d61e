"""`medq import --format medcalc` of the released GPT-4o-mini outputs, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medq.cli import app

OUTPUTS = "medcalc_bench/outputs/openai_gpt-4o-mini_direct_answer.jsonl"
PUBLISHED = "medcalc_bench/outputs/published_results_gpt-4o-mini_direct_answer.json"


def test_import_reproduces_the_published_table(shared_data: Path) -> None:
    runner = CliRunner()
    imported = runner.invoke(app, [
        "import", str(shared_data / OUTPUTS), "--task", "medcalc", "--model", "gpt-4o-mini",
        "--format", "medcalc", "--data", str(shared_data / "medcalc_bench")],
        catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    shown = runner.invoke(app, ["show", "last", "--format", "json"], catch_exceptions=False)
    summary = json.loads(shown.stdout)
    published = json.loads((shared_data / PUBLISHED).read_text())
    table = summary["medcalc"]
    assert {k: v["average"] for k, v in table.items()} == {
        k: v["average"] for k, v in published.items()}
    assert round(100 * summary["accuracy"], 2) == 20.63
    assert summary["paper_accuracy"] == summary["accuracy"]  # no row where medq disagrees
    assert summary["invalid"] == 47
    text = runner.invoke(app, ["show", "last"], catch_exceptions=False).stdout
    assert "MedCalc-Bench by category: date 23.33% (14/60)" in text
    assert "overall 20.63% (216/1047)" in text
