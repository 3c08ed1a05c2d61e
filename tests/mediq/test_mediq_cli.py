"""MediQ end to end: the CLI on a loopback server, the three conditions in one table,
`medq show`, a separate patient model, run files, and resuming a killed dialogue."""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.testing.openai_server import FakeOpenAIServer

sys.path.insert(0, str(Path(__file__).parent))
from scripted_consultation import consultation, kind_of, server_responder  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def medq(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_eval_runs_the_three_conditions_in_one_table() -> None:
    with FakeOpenAIServer(server_responder(consultation(ask=2, letter="C"))) as server:
        args = ["eval", "--task", "imedqa", "--sample", "--limit", "5",
                "--strategy", "mediq(abstain=scale,threshold=0.8)", "--patient", "factselect",
                "--model", "openai/m", "--base-url", server.base_url]
        text = medq(*args)
        calls = server.count
        # Dialogues (8 expert + 2 patient calls) and the full condition's one call each; the
        # initial condition's call is the dialogue's first intermediate choice, from the cache.
        assert calls == 5 * (8 + 2) + 5
        for row in ("interactive", "full", "initial", "Paired comparison", "2.00 / 2"):
            assert row in text
        result = json.loads(medq(*args, "--format", "json"))
        assert server.count == calls  # the same command again: all three runs resume
    runs = result["conditions"]
    assert list(runs) == ["interactive", "full", "initial"]
    interactive = runs["interactive"]["run_id"]
    shown = json.loads(medq("show", interactive, "--format", "json"))
    assert shown["turns_mean"] == 2.0 and shown["turns_median"] == 2.0
    assert shown["timeout_rate"] == 0.0 and shown["patient_refusals"] == 0
    assert set(shown["conditions"]) == {"interactive", "full", "initial"}
    assert shown["conditions"]["interactive"]["run_id"] == interactive
    assert shown["conditions"]["full"]["n"] == 5
    assert [r["turn"] for r in shown["accuracy_by_turn"]] == [0, 1, 2]
    assert shown["calls_by_role"] == {"expert": 8.0, "patient": 2.0}
    text = medq("show", interactive)
    assert "turns: 2.00 questions per item (mean)" in text and "timeout rate: 0.0%" in text
    assert "condition full: " in text
    pairs = result["comparison"]["pairs"]
    assert [(p["run_a"], p["run_b"]) for p in pairs][0] == (interactive,
                                                            runs["full"]["run_id"])


def test_a_patient_model_of_its_own_and_a_named_condition() -> None:
    reply = consultation(ask=1)
    with FakeOpenAIServer(server_responder(reply)) as expert, \
            FakeOpenAIServer(server_responder(reply)) as patient:
        done = runner.invoke(app, [
            "eval", "--task", "icraftmd", "--sample", "--limit", "3",
            "--strategy", "mediq(condition=interactive)", "--model", "openai/m",
            "--base-url", expert.base_url, "--patient-model", "openai/p",
            "--patient-base-url", patient.base_url], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        stderr_of_last = done.stderr  # the plan names the run the patient model is part of
        assert patient.count == 3
        (planned,) = [line.split()[1].rstrip(":") for line in stderr_of_last.splitlines()
                      if line.startswith("plan ")]
        assert planned == json.loads(medq("show", "last", "--format", "json"))["run_id"]
        assert {kind_of(b["messages"][-1]["content"]) for b in patient.bodies} == {"factselect"}
        assert "factselect" not in {kind_of(b["messages"][-1]["content"])
                                    for b in expert.bodies}
    shown = json.loads(medq("show", "last", "--format", "json"))
    assert shown["conditions"] == {"interactive": {
        "n": 3, "correct": shown["correct"], "accuracy": shown["accuracy"],
        "ci_low": shown["ci_low"], "ci_high": shown["ci_high"], "errors": 0}}
    bad = runner.invoke(app, ["eval", "--task", "imedqa", "--sample", "--model", "openai/m",
                              "--patient-base-url", "http://x"])
    assert bad.exit_code == 2 and "--patient-base-url needs --patient-model" in bad.output


def test_a_run_file_names_the_patient_role(tmp_path: Path) -> None:
    from medq.runfile import RunFileError, load_runfile

    path = tmp_path / "run.toml"
    path.write_text('task = "imedqa"\nmodel = "openai/m"\nstrategy = "mediq"\n'
                    '[roles.patient]\nmodel = "openai/p"\nbase_url = "http://127.0.0.1:9/v1"\n')
    spec = load_runfile(path).spec
    assert [(name, ref.model, ref.base_url) for name, ref in spec.roles] == [
        ("patient", "openai/p", "http://127.0.0.1:9/v1")]
    path.write_text('task = "imedqa"\nmodel = "openai/m"\n[roles.patient]\nmodl = "x"\n')
    with pytest.raises(RunFileError, match="role 'patient' needs a 'model' string"):
        load_runfile(path)


def _key(messages: list[dict]) -> tuple:
    return tuple((m["role"], m["content"]) for m in messages)


def _stored(db: Path) -> tuple[int, list[str]]:
    if not db.exists():
        return 0, []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        samples = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        calls = [row[0] for row in con.execute("SELECT key FROM calls")]
        return samples, calls
    except sqlite3.OperationalError:  # tables not created yet
        return 0, []
    finally:
        con.close()


def test_a_dialogue_killed_midway_resumes_without_repeating_a_finished_turn(
    medq_home: Path,
) -> None:
    env = {**os.environ, "MEDQ_HOME": str(medq_home), "OPENAI_API_KEY": "dummy"}
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(server_responder(consultation(ask=3)), latency=0.05) as server:
        command = [
            sys.executable, "-m", "medq.cli", "eval", "--task", "imedqa", "--sample",
            "--limit", "2", "--strategy", "mediq(condition=interactive)", "--model",
            "openai/fake", "--base-url", server.base_url, "--concurrency", "1",
        ]
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(_stored(db)[1]) < 7 and time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stderr is not None
        child.stderr.close()
        samples_before, calls_before = _stored(db)
        assert samples_before == 0 and 7 <= len(calls_before) < 14, "kill mid-dialogue"
        served_before = len(server.bodies)

        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
        served = collections.Counter(_key(b["messages"]) for b in server.bodies)
        samples_after, calls_after = _stored(db)

    assert samples_after == 2 and len(calls_after) == 2 * 14
    # Every turn finished before the kill was asked of the server once, never again.
    from medq.store import Store

    with Store(readonly=True) as store:
        for key in calls_before:
            assert served[_key(store.get_call(key).request["messages"])] == 1
    # The resumed run asked only what was missing, plus at most the call in flight.
    assert len(server.bodies) - served_before <= 2 * 14 - len(calls_before) + 1
    assert sum(n - 1 for n in served.values()) <= 1
