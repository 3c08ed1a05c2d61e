"""Commands that only read and print stay light: `--help`, `runs` and `show` (without
`--by`, with it too) never import numpy (issue 19)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel

PROBE = (
    "import sys; sys.argv = ['medq', *sys.argv[1:]]; from medq.cli import main\n"
    "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "print('numpy' in sys.modules, file=sys.stderr)"
)


def imports_numpy(medq_home: Path, *args: str) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         env={**os.environ, "MEDQ_HOME": str(medq_home)}, check=True)
    return out.stderr.strip().splitlines()[-1] == "True"


@pytest.fixture
def two_runs(medq_home: Path) -> list[str]:
    with Store() as store:
        return [evaluate(EvalSpec("medqa", f"scripted/{name}", strategy, sample=True, limit=5),
                         store=store, model=ScriptedModel(lambda r: "Answer: B", name=name),
                         progress=False).run_id
                for name, strategy in (("a", "direct"), ("b", "cot"))]


@pytest.mark.parametrize("args", [
    ("--help",), ("runs",), ("show", "last"), ("show", "last", "--format", "json"),
    ("show", "last", "--by", "exam_step"),
])
def test_reading_commands_do_not_import_numpy(medq_home: Path, two_runs: list[str],
                                              args: tuple[str, ...]) -> None:
    assert not imports_numpy(medq_home, *args)


def test_the_probe_sees_numpy_where_a_command_needs_it(medq_home: Path,
                                                       two_runs: list[str]) -> None:
    assert imports_numpy(medq_home, "compare", *two_runs)  # paired bootstrap
