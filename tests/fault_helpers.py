"""Helpers for the fault tests: the real `medq` process, stores with runs in them, and the
Linux tools that make a disk full, a file system read-only or a user unprivileged."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

runner = CliRunner()
MEDQ = [sys.executable, "-m", "medq.cli"]


def invoke(*args: str) -> tuple[int, str, str]:
    """Run medq in-process: (exit code, stdout, stderr)."""
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def medq_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for a medq subprocess: its own home, offline, a fake key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDQ_", "OPENAI_"))}
    env.update(MEDQ_HOME=str(home), HF_HUB_OFFLINE="1", OPENAI_API_KEY="test-key",
               COLUMNS="200", **extra)
    return env


def run_medq(home: Path, *args: str, prefix: tuple[str, ...] = (), timeout: float = 120,
             **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `medq` process (optionally under `prefix`, e.g. a privilege drop)."""
    return subprocess.run([*prefix, *MEDQ, *args], env=medq_env(home, **env),
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(stderr: str, *fragments: str) -> str:
    """The single ``error:`` line of `stderr`, which has no traceback and holds `fragments`."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def store_with_run(home: Path, items: int = 6, response: str = "The answer is (B).") -> str:
    """Evaluate the medqa sample against a loopback server into `home` (in this process);
    returns the run ID."""
    saved = {k: os.environ.get(k) for k in ("MEDQ_HOME", "OPENAI_API_KEY")}
    os.environ.update(MEDQ_HOME=str(home), OPENAI_API_KEY="test-key")
    try:
        with FakeOpenAIServer(fixed_responder(response)) as server:
            code, out, err = invoke("eval", "--task", "medqa", "--sample", "--model",
                                    "openai/fake", "--base-url", server.base_url, "--limit",
                                    str(items))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert code == 0, err
    return out.split("run_id: ")[1].split()[0]


@functools.cache
def _works(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def in_mount_namespace(script: str) -> list[str]:
    """A command running `script` (sh) in a private mount namespace, where it may mount a
    tmpfs or remount a folder read-only; skips where that is not allowed."""
    if not _works("unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"):
        if not _works("unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"):
            pytest.skip("cannot make a private mount namespace here (unshare -m)")
        return ["unshare", "-rm", "sh", "-c", script]
    return ["unshare", "-m", "sh", "-c", script]


def unprivileged() -> tuple[str, ...]:
    """A prefix under which file permissions apply: nothing for a normal user; for root, the
    capabilities that override permissions are dropped (setpriv)."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    if shutil.which("setpriv") is None or not _works(*prefix, "true"):
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return prefix
