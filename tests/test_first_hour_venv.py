"""The first hour as a newcomer lives it: a fresh virtualenv, `make demo`, then exactly the
commands the demo printed, all succeeding; and the official parquet release loads with
that plain install (no extras).

Slow (a fresh virtualenv and a real `pip install`): the virtualenv is built once for the
session.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(virtualenv, MEDQ_HOME, what `make demo` printed) for a fresh virtualenv."""
    work = tmp_path_factory.mktemp("first-hour")
    venv, home = work / "venv", work / "home"
    env = {**os.environ, "MEDQ_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "PATH": os.environ.get("PATH", "")}
    env.pop("MEDQ_MODEL", None)
    done = subprocess.run(["make", "demo", f"VENV={venv}", f"PYTHON={sys.executable}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return venv, home, done.stdout


def printed_commands(output: str) -> list[str]:
    """The commands listed under "next:" at the end of the demo's output."""
    lines = output.splitlines()
    start = lines.index("next:")
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")]


def test_make_demo_then_the_printed_commands(demo: tuple[Path, Path, str]) -> None:
    venv, home, output = demo
    assert f"stored in {home / 'medq.sqlite'}" in output
    assert f"source {venv / 'bin' / 'activate'}" in output  # how to put medq on PATH
    commands = printed_commands(output)
    assert [c.split()[1] for c in commands] == ["show", "report", "runs"]
    env = {**os.environ, "MEDQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    for command in commands:
        words = shlex.split(command)
        assert Path(words[0]) == venv / "bin" / "medq"
        done = subprocess.run(words, cwd=home, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, (command, done.stderr)
    assert (home / "demo.html").stat().st_size > 10_000


def test_the_plain_install_reads_the_official_parquet(
    demo: tuple[Path, Path, str], shared_data: Path
) -> None:
    venv, home, _ = demo
    python = venv / "bin" / "python"
    check = ("import importlib.util, sys; from medq.tasks import load_task; "
             "t = load_task('medcalc', __import__('pathlib').Path(sys.argv[1])); "
             "print(len(t), importlib.util.find_spec('pyarrow') is None)")
    done = subprocess.run([str(python), "-c", check,
                           str(shared_data / "medcalc_bench" / "test-00000-of-00001.parquet")],
                          env={**os.environ, "MEDQ_HOME": str(home)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1047", "True"]  # read without pyarrow installed
