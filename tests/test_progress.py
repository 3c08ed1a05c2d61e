"""Long commands show a progress bar on a terminal and print nothing extra elsewhere.

The terminal is a real pseudo-terminal (`pty`) on the commands' stderr; stdout stays a pipe,
as when a user redirects a command's output.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.progress import Progress
from medq.tasks import load_task

MEDQ = [sys.executable, "-c", "from medq.cli import main; main()"]


def on_a_terminal(args: list[str], home: Path) -> tuple[int, str, str]:
    """(exit code, stdout, what the terminal on stderr showed) of `medq ARGS`."""
    leader, follower = pty.openpty()
    env = {**os.environ, "MEDQ_HOME": str(home), "COLUMNS": "120", "TERM": "xterm"}
    shown = b""
    with subprocess.Popen([*MEDQ, *args], stdout=subprocess.PIPE, stderr=follower,
                          stdin=subprocess.DEVNULL, env=env) as process:
        os.close(follower)
        while select.select([leader], [], [], 60)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command closed the terminal (it exited)
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read().decode() if process.stdout else ""
        code = process.wait(timeout=60)
    os.close(leader)
    return code, stdout, shown.decode(errors="replace")


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    folder = tmp_path / "books"
    folder.mkdir()
    for i in range(30):
        (folder / f"book{i:02d}.txt").write_text(" ".join(f"word{j}" for j in range(600)))
    return folder


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "preds.jsonl"
    lines = [json.dumps({"id": q.id, "response": f"Answer: {q.gold}"})
             for q in load_task("medqa", sample=True).questions]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_long_commands_draw_a_bar_on_a_terminal(
    medq_home: Path, texts: Path, predictions: Path
) -> None:
    code, out, shown = on_a_terminal(["corpus", "add", "books", str(texts)], medq_home)
    assert code == 0 and "corpus books:" in out and "reading books" in shown
    assert "/30" in shown  # done of 30 files
    code, out, shown = on_a_terminal(["index", "build", "books"], medq_home)
    assert code == 0 and "books · bm25" in shown
    code, out, shown = on_a_terminal(
        ["import", str(predictions), "--task", "medqa", "--sample", "--model", "m"], medq_home)
    assert code == 0 and "medqa · released" in shown  # an import is a run of the runner
    code, out, shown = on_a_terminal(["report", "last", "-o", str(medq_home / "r.html")],
                                     medq_home)
    assert code == 0 and "report · loading runs" in shown and "report · packing items" in shown
    assert "report ·" not in out  # the bar is on stderr only


def test_off_a_terminal_nothing_but_the_result(texts: Path, predictions: Path) -> None:
    runner = CliRunner()
    for args in (["corpus", "add", "books", str(texts)], ["index", "build", "books"],
                 ["import", str(predictions), "--task", "medqa", "--sample", "--model", "m"],
                 ["report", "last", "--format", "markdown"]):
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        bars = ("reading books", "books · bm25", "medqa · released", "report ·", "items/s")
        assert not any(bar in result.stdout + result.stderr for bar in bars), args


def test_progress_is_silent_when_disabled_or_piped() -> None:
    # pytest captures stderr, so it is not a terminal here.
    with Progress(10, "work") as bar:
        assert not bar.shown
        assert list(bar.track(range(3))) == [0, 1, 2]
    assert not Progress(10, "work", enabled=False).shown
