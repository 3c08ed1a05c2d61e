"""The HealthBench release download, verified: a loopback HTTP server serves the file
whole, cut short, or changed; nothing unverified is ever taken for whole."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from judge_helpers import write_rubric_file
from typer.testing import CliRunner

from medq.cli import app
from medq.tasks import healthbench
from medq.tasks.base import DatasetUnavailableError, TaskDataError, load_task

runner = CliRunner()
NAME = "healthbench_hard"
FILE = healthbench.FILES[NAME]
ITEMS = [
    {"id": f"p{i}", "messages": [{"role": "user", "content": f"question {i}"}],
     "rubric": [(5, "mentions rest"), (-2, "mentions aspirin")]}
    for i in range(4)
]


class Release:
    """A loopback release location: `mode` says how the next responses are sent."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.mode = "whole"
        self.requests = 0
        release = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                release.requests += 1
                body = release.body
                self.send_response(200)
                if release.mode == "whole":
                    self.send_header("Content-Length", str(len(body)))
                elif release.mode == "short":  # says the whole size, sends two lines
                    self.send_header("Content-Length", str(len(body)))
                    body = b"".join(body.splitlines(keepends=True)[:2])
                elif release.mode == "mid-line":  # no length, closes inside a line
                    self.send_header("Connection", "close")
                    body = body[: len(body) // 2 + 7]
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Release]:
    body = write_rubric_file(tmp_path / FILE, ITEMS).read_bytes()
    served = Release(body)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(healthbench, "RELEASE", served.url)
    try:
        yield served
    finally:
        served.close()


def cached(medq_home: Path) -> list[str]:
    folder = medq_home / "cache" / "healthbench"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_a_whole_download_is_cached_with_its_sha256_in_the_provenance(
        release: Release, medq_home: Path) -> None:
    task = load_task(NAME)
    assert [q.id for q in task.questions] == ["p0", "p1", "p2", "p3"]
    assert task.source == f"release:{release.url}{FILE}@sha256:{sha(release.body)}"
    assert cached(medq_home) == [FILE, f"{FILE}.sha256"]
    again = load_task(NAME, sha256=sha(release.body))
    assert release.requests == 1 and again.source == task.source  # from the cache


@pytest.mark.parametrize("mode", ["short", "mid-line"])
def test_a_download_cut_short_is_never_cached(release: Release, medq_home: Path,
                                              mode: str) -> None:
    release.mode = mode
    with pytest.raises((DatasetUnavailableError, TaskDataError), match="nothing was cached"):
        load_task(NAME)
    assert cached(medq_home) == []  # no file, no leftover temporary
    release.mode = "whole"
    assert len(load_task(NAME).questions) == 4


def test_a_pinned_sha256_that_differs_fails_in_one_line(
        release: Release, medq_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(healthbench.PINNED_SHA256, FILE, "0" * 64)
    result = runner.invoke(app, ["eval", "--task", NAME, "--model", "openai/m",
                                 "--strategy", "respond", "--judge", "openai/j", "--dry-run"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert f"sha256 {sha(release.body)}" in result.stderr and "pinned" in result.stderr
    assert cached(medq_home) == []
    monkeypatch.setitem(healthbench.PINNED_SHA256, FILE, sha(release.body))
    assert len(load_task(NAME).questions) == 4


def test_data_sha256_checks_the_download_and_a_local_file(
        release: Release, medq_home: Path, tmp_path: Path) -> None:
    args = ["eval", "--task", NAME, "--model", "openai/m", "--strategy", "respond",
            "--judge", "openai/j", "--dry-run"]
    wrong = runner.invoke(app, [*args, "--data-sha256", "ab" * 32])
    assert wrong.exit_code == 2 and len(wrong.stderr.strip().splitlines()) == 1
    assert "--data-sha256" in wrong.stderr and cached(medq_home) == []
    right = runner.invoke(app, [*args, "--data-sha256", sha(release.body).upper()])
    assert right.exit_code == 0, right.output
    assert cached(medq_home) == [FILE, f"{FILE}.sha256"]
    local = tmp_path / FILE
    bad = runner.invoke(app, [*args, "--data", str(local), "--data-sha256", "ab" * 32])
    assert bad.exit_code == 2 and f"{local}: sha256 {sha(release.body)}" in bad.stderr
    ok = runner.invoke(app, [*args, "--data", str(local), "--data-sha256", sha(release.body)])
    assert ok.exit_code == 0, ok.output
    folder = runner.invoke(app, [*args, "--data", str(tmp_path), "--data-sha256", "ab" * 32])
    assert folder.exit_code == 2 and "one file" in folder.stderr
    typo = runner.invoke(app, [*args, "--data-sha256", "abc"])
    assert typo.exit_code == 2 and "64 hexadecimal digits" in typo.stderr


def test_a_cached_file_that_changed_or_was_never_verified_is_not_trusted(
        release: Release, medq_home: Path) -> None:
    load_task(NAME)
    target = medq_home / "cache" / "healthbench" / FILE
    lines = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(lines[:2]))  # cut at a line boundary: it still parses
    with pytest.raises(TaskDataError, match="changed since it was downloaded"):
        load_task(NAME)
    target.with_name(f"{FILE}.sha256").unlink()  # as an older medq left it
    assert len(load_task(NAME).questions) == 4  # downloaded again, verified
    assert release.requests == 2
    assert json.loads(target.read_text().splitlines()[-1])["prompt_id"] == "p3"
