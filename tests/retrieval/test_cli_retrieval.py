"""`medq corpus add|list`, `medq index build`, `medq search`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medq.cli import app

runner = CliRunner()


def test_corpus_index_and_search_commands(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Heart\nThe heart pumps blood.\n# Lungs\nAir.\n")
    added = runner.invoke(app, ["corpus", "add", "notes", str(tmp_path), "--chunk-words", "4",
                                "--overlap-words", "1"])
    assert added.exit_code == 0, added.output
    assert "corpus notes: 3 snippets" in added.output
    listed = runner.invoke(app, ["corpus", "list"])
    assert "notes" in listed.output and "3" in listed.output
    built = runner.invoke(app, ["index", "build", "notes", "--memory-gb", "0.5"])
    assert built.exit_code == 0 and "bm25 index of notes (3 snippets)" in built.output
    found = runner.invoke(app, ["search", "notes", "heart blood", "-k", "2", "--format", "json"])
    hits = json.loads(found.output)
    assert hits[0]["id"] == "notes.md#1" and hits[0]["title"] == "Heart"  # "heart pumps blood"
    text = runner.invoke(app, ["search", "notes", "air"])
    assert " 1. [notes:notes.md#2]" in text.output


def test_commands_explain_errors_in_one_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["search", "nope", "x"])
    assert missing.exit_code == 2 and "unknown corpus 'nope'" in missing.output
    bad = runner.invoke(app, ["corpus", "add", "x", str(tmp_path / "absent")])
    assert bad.exit_code == 2 and "no such file" in bad.output
    (tmp_path / "a.txt").write_text("words here")
    runner.invoke(app, ["corpus", "add", "x", str(tmp_path)])
    wrong = runner.invoke(app, ["index", "build", "x", "--retriever", "tfidf"])
    assert wrong.exit_code == 2 and "--retriever must be" in wrong.output
    tiny = runner.invoke(app, ["index", "build", "x", "--memory-gb", "0"])
    assert tiny.exit_code == 2 and "--memory-gb" in tiny.output
