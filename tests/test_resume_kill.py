"""Resume after SIGKILL: a killed `medq eval` started again loses and duplicates nothing,
and repeats no call it had finished. Real process, real loopback server, real SQLite."""

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

from medq._store_codec import unpack_json
from medq.testing.openai_server import FakeOpenAIServer


def _stored(db: Path) -> tuple[dict[str, float], set[str]]:
    if not db.exists():
        return {}, set()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        samples = dict(con.execute("SELECT item_id, created_at FROM samples").fetchall())
        # A stored request refers to its long texts by hash (request_texts): resolve them.
        texts = dict(con.execute("SELECT hash, text FROM request_texts").fetchall())
        calls = set()
        for (raw,) in con.execute("SELECT request FROM calls"):
            request = json.loads(unpack_json(raw))  # stored compactly (medq._store_codec)
            for message in request["messages"]:
                if isinstance(message["content"], dict):
                    message["content"] = texts[message["content"]["$text"]]
            calls.add(json.dumps(request, sort_keys=True))
        return samples, calls
    except sqlite3.OperationalError:  # tables not created yet
        return {}, set()
    finally:
        con.close()


def test_sigkill_then_resume(medq_home: Path) -> None:
    env = {**os.environ, "MEDQ_HOME": str(medq_home), "OPENAI_API_KEY": "dummy"}
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(latency=0.15) as server:
        command = [
            sys.executable, "-m", "medq.cli", "eval", "--task", "medqa", "--sample",
            "--model", "openai/fake", "--base-url", server.base_url, "--concurrency", "4",
        ]
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(_stored(db)[0]) < 8 and time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stderr is not None
        child.stderr.close()
        before_samples, before_calls = _stored(db)
        assert 8 <= len(before_samples) < 50, "the kill must land mid-run"
        requests_before = len(server.bodies)

        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert finished.returncode == 0, finished.stderr
        after_samples, after_calls = _stored(db)
        prompts = collections.Counter(
            body["messages"][-1]["content"] for body in server.bodies
        )

    n_items = len(after_samples)
    assert n_items == 50  # every sample item once (item_id is the key: no duplicates)
    # Items finished before the kill were kept as they were, not redone.
    assert all(after_samples[i] == t for i, t in before_samples.items())
    # Every call stored before the kill was asked of the server exactly once.
    import json

    for request in before_calls:
        content = json.loads(request)["messages"][-1]["content"]
        assert prompts[content] == 1
    # The resumed run asked only for what was missing (plus calls in flight at the kill).
    assert len(server.bodies) - requests_before <= n_items - len(before_samples)
    assert len(after_calls) == n_items


def test_ctrl_c_stops_cleanly_and_keeps_finished_items(medq_home: Path) -> None:
    env = {**os.environ, "MEDQ_HOME": str(medq_home), "OPENAI_API_KEY": "dummy"}
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(latency=0.15) as server:
        command = [
            sys.executable, "-m", "medq.cli", "eval", "--task", "medqa", "--sample",
            "--model", "openai/fake", "--base-url", server.base_url, "--concurrency", "2",
        ]
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(_stored(db)[0]) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    con = sqlite3.connect(db)
    status = con.execute("SELECT status FROM runs").fetchone()[0]
    kept = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    con.close()
    assert status == "interrupted" and 4 <= kept < 50
