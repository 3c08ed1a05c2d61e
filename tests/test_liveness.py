"""A run knows whether it is alive: its lock, SIGTERM, SIGKILL, killed imports, and what
`runs`, `show`, `export` and the reports then say. Real processes, real loopback server."""

from __future__ import annotations

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

from medq._store_codec import unpack_response_ref
from medq.cli import app
from medq.liveness import RunBusyError, RunLock, lock_held, lock_path
from medq.store import MIGRATIONS, Store
from medq.testing.openai_server import FakeOpenAIServer

runner = CliRunner()


def env(medq_home: Path) -> dict[str, str]:
    return {**os.environ, "MEDQ_HOME": str(medq_home), "OPENAI_API_KEY": "dummy"}


def eval_command(server: FakeOpenAIServer, *extra: str) -> list[str]:
    return [sys.executable, "-m", "medq.cli", "eval", "--task", "medqa", "--sample",
            "--model", "openai/fake", "--base-url", server.base_url, *extra]


def n_samples(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def wait_for_samples(db: Path, n: int, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while n_samples(db) < n and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.02)


def cli_json(*args: str) -> dict:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_same_spec_started_twice_at_once_pays_once(medq_home: Path) -> None:
    # 30 items two at a time at 0.6 s each: the first run lasts ~9 s, longer than the
    # second process takes to start even on a loaded machine.
    with FakeOpenAIServer(latency=0.6) as server:
        command = eval_command(server, "--limit", "30", "--concurrency", "2")
        first = subprocess.Popen(command, env=env(medq_home), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        wait_for_samples(medq_home / "medq.sqlite", 1, first)
        second = subprocess.run(command, env=env(medq_home), capture_output=True, text=True,
                                timeout=60)
        _, first_err = first.communicate(timeout=60)
        prompts = [b["messages"][-1]["content"] for b in server.bodies]
    assert first.returncode == 0, first_err
    assert second.returncode == 3, second.stderr
    assert "is already running in process" in second.stderr
    assert f"process {first.pid} on" in second.stderr and "Traceback" not in second.stderr
    assert len(prompts) == len(set(prompts)) == 30  # every item asked once, none twice


def test_sigterm_is_a_clean_interrupt(medq_home: Path) -> None:
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(latency=0.1) as server:
        child = subprocess.Popen(eval_command(server, "--concurrency", "2"), env=env(medq_home),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_samples(db, 4, child)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    summary = cli_json("show", "last", "--format", "json")
    assert summary["status"] == "interrupted" and 4 <= summary["n"] < 50


def test_a_killed_run_is_stale_everywhere_and_resumes(medq_home: Path, tmp_path: Path) -> None:
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(latency=0.1) as server:
        command = eval_command(server, "--concurrency", "2")
        child = subprocess.Popen(command, env=env(medq_home), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, text=True)
        wait_for_samples(db, 4, child)
        with Store(db) as store:
            (run,) = store.runs()
            assert run["status"] == "running"  # alive: its process holds the lock
            owner = store.run_owner(run["run_id"])
            assert owner is not None and owner["pid"] == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait()

        summary = cli_json("show", "last", "--format", "json")
        run_id, n = summary["run_id"], summary["n"]
        assert summary["status"] == "stale" and 4 <= n < 50
        listing = runner.invoke(app, ["runs"]).stdout
        assert "stale" in listing and "running" not in listing
        shown = runner.invoke(app, ["show", "last"]).stdout
        assert f"status: stale, {n} of 50 items (recorded as running, but its process is " \
               "gone" in " ".join(shown.split())
        rows = [json.loads(line) for line in runner.invoke(app, ["export", "last"]).stdout
                .splitlines()]
        assert {r["run_status"] for r in rows} == {"stale"} and len(rows) == n
        markdown = runner.invoke(app, ["report", "last", "--format", "markdown"]).stdout
        assert f"| stale | {n} of 50 | {n} |" in markdown
        assert f"**Run 1 is incomplete**: stale, {n} of 50 items" in markdown
        html = runner.invoke(app, ["report", "last"]).stdout
        assert 'data-field="status" class="incomplete">stale<' in html
        assert f'data-field="items">{n} of 50<' in html and "Run 1 is incomplete" in html

        resumed = subprocess.run(command, env=env(medq_home), capture_output=True, text=True,
                                 timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    summary = cli_json("show", run_id, "--format", "json")
    assert summary["status"] == "finished" and summary["n"] == 50
    markdown = runner.invoke(app, ["report", run_id, "--format", "markdown"]).stdout
    assert "| finished | 50 of 50 | 50 |" in markdown and "incomplete" not in markdown


def test_lock_refuses_a_second_holder_and_goes_with_its_process(medq_home: Path) -> None:
    with Store() as store:
        first = RunLock(store)
        first.acquire("r1")
        assert lock_held(lock_path(store.path, "r1"))
        with pytest.raises(RunBusyError, match="run r1 is already running"):
            RunLock(store).acquire("r1")
        first.release()
        assert not lock_held(lock_path(store.path, "r1"))
        again = RunLock(store)
        again.acquire("r1")
        again.release()


KILL_AFTER = """
import os, signal, sys
from medq.store import Store
real, stored = Store.put_sample, [0]
def store_then_die(*args, **kwargs):
    real(*args, **kwargs)
    stored[0] += 1
    if stored[0] == {n}:
        os.kill(os.getpid(), signal.{signal})
Store.put_sample = store_then_die
from medq.cli import main
sys.argv = ["medq", "import", {file!r}, "--task", "medqa", "--sample", "--model", "mine"]
main()
"""


def release_file(tmp_path: Path) -> Path:
    from medq.tasks.base import load_task

    preds = tmp_path / "preds.jsonl"
    items = load_task("medqa", None, sample=True).questions
    preds.write_text("".join(json.dumps({"id": q.id, "choice": "A"}) + "\n" for q in items),
                     encoding="utf-8")
    return preds


def test_a_killed_import_is_stale_and_counts_what_it_stored(
    medq_home: Path, tmp_path: Path
) -> None:
    preds = release_file(tmp_path)
    script = KILL_AFTER.format(n=14, signal="SIGKILL", file=str(preds))
    killed = subprocess.run([sys.executable, "-c", script], env=env(medq_home),
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    summary = cli_json("show", "last", "--format", "json")
    assert summary["status"] == "stale" and summary["n"] == 14
    shown = " ".join(runner.invoke(app, ["show", "last"]).stdout.split())
    assert "status: stale, 14 of 50 items (recorded as running, but its process is gone" in shown
    assert "14 of 50 task items; 0 missing (not scored)" in shown
    assert "incomplete: 36 of the file's 50 predictions are not stored yet" in shown
    # Importing again finishes it.
    again = runner.invoke(app, ["import", str(preds), "--task", "medqa", "--sample",
                                "--model", "mine"])
    assert again.exit_code == 0, again.output
    assert "50 of 50 task items; 0 missing" in " ".join(again.stdout.split())
    assert cli_json("show", "last", "--format", "json")["status"] == "finished"


def test_sigterm_interrupts_an_import(medq_home: Path, tmp_path: Path) -> None:
    script = KILL_AFTER.format(n=14, signal="SIGTERM", file=str(release_file(tmp_path)))
    stopped = subprocess.run([sys.executable, "-c", script], env=env(medq_home),
                             capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted: run the same import again" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert cli_json("show", "last", "--format", "json")["status"] == "interrupted"


def test_a_response_is_stored_once(medq_home: Path) -> None:
    with FakeOpenAIServer() as server:
        result = runner.invoke(app, ["eval", "--task", "medqa", "--sample", "--model",
                                     "openai/fake", "--base-url", server.base_url,
                                     "--limit", "6"], env={"OPENAI_API_KEY": "k"})
        assert result.exit_code == 0, result.output
    con = sqlite3.connect(medq_home / "medq.sqlite")
    # Each sample refers to generation 0 of its first call (medq._store_codec) rather
    # than holding the text again.
    refs = [r[0] for r in con.execute("SELECT response FROM samples")]
    assert len(refs) == 6 and all(unpack_response_ref(r) == (0, 0) for r in refs)
    con.close()
    rows = [json.loads(line) for line in runner.invoke(app, ["export", "last"]).stdout
            .splitlines()]
    assert all(r["response"].startswith("Answer: ") for r in rows) and len(rows) == 6


def test_text_that_is_no_stored_generation_is_kept_in_the_sample(medq_home: Path) -> None:
    with Store() as store:
        store.create_or_resume_run("r", task="t", model="m", strategy="s", spec={}, info={})
        store.put_call("k1", model="m", endpoint="e", kind="chat", request={},
                       response={"generations": [{"text": "one"}, {"text": "two"}]},
                       prompt_tokens=0, completion_tokens=0, latency_s=0.0)
        row = {"item_id": "i", "position": 0, "status": "ok", "choice": "A", "gold": "A",
               "correct": 1, "truncated": 0, "confidence": None, "reason": None,
               "details": {}, "calls": 1, "new_calls": 1, "prompt_tokens": 0,
               "completion_tokens": 0, "call_keys": ["k1"]}
        store.put_sample("r", {**row, "response": "two"})
        assert next(store.samples("r"))["response"] == "two"
        store.put_sample("r", {**row, "response": "one, edited"})  # replaced: no stale ref
        assert next(store.samples("r"))["response"] == "one, edited"


def test_m003_applies_before_or_after_a_migration_added_later(
    medq_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = tuple(m for m in MIGRATIONS if m[0] in {"m001_initial", "m003_run_liveness"})
    monkeypatch.setattr("medq.store.MIGRATIONS", ours)
    with Store() as store:
        store.create_or_resume_run("r", task="t", model="m", strategy="s", spec={}, info={})
    # A migration added later but named to sort before m003 is applied on the next open.
    later = ("m002_added_later", "CREATE TABLE added_later (x INTEGER)")
    at = [m[0] for m in MIGRATIONS].index("m003_run_liveness")
    full = (*MIGRATIONS[:at], later, *MIGRATIONS[at:])
    monkeypatch.setattr("medq.store.MIGRATIONS", full)
    with Store() as store:
        assert store.run("r")["status"] == "stale"  # recorded running, nobody holds it
        names = {r[0] for r in store._db.execute("SELECT name FROM _migrations")}
        assert names == {m[0] for m in full}
