"""The CLI runs its event loops on uvloop where it is installed; callers of the app keep
their own loop; ``MEDQ_EVENT_LOOP=asyncio`` keeps asyncio's."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from medq.testing.openai_server import FakeOpenAIServer

uvloop = pytest.importorskip("uvloop")

PROBE = ("import asyncio, medq._event_loop as e; name = e.use_fast_loop(); "
         "print(name, type(asyncio.new_event_loop()).__module__.split('.')[0])")


@pytest.mark.parametrize(("env", "expected"), [({}, "uvloop uvloop"),
                                               ({"MEDQ_EVENT_LOOP": "asyncio"},
                                                "asyncio asyncio")])
def test_use_fast_loop_picks_uvloop_unless_turned_off(env: dict[str, str],
                                                      expected: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, **env})
    assert out.stdout.split() == expected.split()


def _event_loop_of_a_run(tmp_path: Path, env: dict[str, str]) -> str:
    with FakeOpenAIServer() as server:
        home = tmp_path / "home"
        medq = Path(sys.executable).with_name("medq")
        command = [str(medq)] if medq.exists() else [sys.executable, "-c",
                                                     "from medq._console import main; main()"]
        subprocess.run([*command, "eval", "--task", "medqa", "--sample", "--limit", "3",
                        "--model", "openai/m", "--base-url", server.base_url],
                       check=True, capture_output=True,
                       env={**os.environ, "MEDQ_HOME": str(home), "OPENAI_API_KEY": "k",
                            **env})
    db = sqlite3.connect(home / "medq.sqlite")
    (info,) = db.execute("SELECT info FROM runs").fetchone()
    db.close()
    return str(json.loads(info)["event_loop"])


def test_the_medq_command_runs_on_uvloop_and_records_it(tmp_path: Path) -> None:
    assert _event_loop_of_a_run(tmp_path / "a", {}) == "uvloop"
    assert _event_loop_of_a_run(tmp_path / "b", {"MEDQ_EVENT_LOOP": "asyncio"}) == "asyncio"


def test_a_caller_of_the_app_keeps_its_own_loop(medq_home: Path) -> None:
    import asyncio

    from typer.testing import CliRunner

    from medq.cli import app

    with FakeOpenAIServer() as server:
        result = CliRunner().invoke(app, ["eval", "--task", "medqa", "--sample", "--limit",
                                          "2", "--model", "openai/m", "--base-url",
                                          server.base_url])
    assert result.exit_code == 0, result.output
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
