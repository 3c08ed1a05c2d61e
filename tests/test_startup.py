"""What keeps `medq`'s start-up light (issue 19) gives what the full path gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq import cli


@pytest.mark.parametrize("args", [
    ["eval", "--help"], ["eval", "--bogus"], ["eval", "--limit", "x", "--task", "medqa"],
    ["eval", "--task", "medqa", "--model", "openai/m", "--sample", "--limit", "2",
     "--dry-run"],
    ["runs", "--help"], ["show"], ["judge", "--help"], ["judge", "meta", "--help"],
    ["corpus"], ["tasks", "--help"],
])
def test_the_one_command_app_answers_as_the_whole_app(args: list[str]) -> None:
    one = cli._app_for(args)
    assert one is not cli.app
    runner = CliRunner()
    got = runner.invoke(one, args, prog_name="medq")
    want = runner.invoke(cli.app, args, prog_name="medq")
    assert (got.exit_code, got.output) == (want.exit_code, want.output)


@pytest.mark.parametrize("args", [["--version"], ["evl"], ["--bogus", "eval"]])
def test_the_whole_app_answers_what_names_no_command(args: list[str]) -> None:
    assert cli._app_for(args) is cli.app


@pytest.mark.parametrize("args", [[], ["--help"], ["-h"], ["-h", "eval"]])
@pytest.mark.parametrize("width", [60, 100, 200])
def test_the_listing_app_prints_the_whole_apps_help(args: list[str], width: int) -> None:
    listing = cli._app_for(args)
    assert listing is not cli.app
    runner = CliRunner()
    got = runner.invoke(listing, args, prog_name="medq", env={"COLUMNS": str(width)})
    want = runner.invoke(cli.app, args, prog_name="medq", env={"COLUMNS": str(width)})
    assert (got.exit_code, got.output) == (want.exit_code, want.output)
    assert "eval" in got.output and "judge" in got.output


def test_the_one_command_app_holds_only_that_command() -> None:
    import typer.main

    whole = list(typer.main.get_command(cli.app).commands)
    assert list(typer.main.get_command(cli._app_for(["eval"])).commands) == ["eval"]
    assert list(typer.main.get_command(cli._app_for(["judge", "meta"])).commands) == ["judge"]
    assert list(typer.main.get_command(cli.app).commands) == whole  # the app is untouched
    assert {"eval", "runs", "show", "judge", "serve", "sweep"} <= set(whole)


def test_the_medagentsbench_group_names_every_source() -> None:
    from medq.tasks.groups import GROUPS
    from medq.tasks.medagentsbench import SOURCES

    assert GROUPS["medagentsbench_hard"] == tuple(
        f"medagentsbench_{source}_hard" for source in SOURCES)


def test_the_judge_summary_reads_the_record_key() -> None:
    from medq.judge import record, summary

    assert summary.GRADING_KEY == record.GRADING_KEY


def test_the_data_hash_of_a_task_is_computed_once_and_is_the_same() -> None:
    from medq import runner
    from medq.tasks.base import load_task

    questions = load_task("medqa", sample=True).questions
    fresh = runner.data_hash(list(questions))  # a list: never cached
    assert runner.data_hash(questions) == fresh
    assert runner._LAST_DATA_HASH[0] is questions
    assert runner.data_hash(questions) == fresh  # from the cache
    assert runner.data_hash(questions[:3]) != fresh  # another tuple: hashed afresh
    assert runner.data_hash(questions) == fresh


def test_medq_pauses_the_collector_until_the_command_runs(tmp_path: Path) -> None:
    # The console script: no collection during start-up; the start-up objects frozen, and
    # the collector on when the command (here a run's items) runs.
    from medq.testing.openai_server import FakeOpenAIServer

    env = {**os.environ, "MEDQ_HOME": str(tmp_path), "OPENAI_API_KEY": "k"}
    probe = (
        "import gc, sys\n"
        "import medq.evaluation as e\n"  # imported before main: the test's own hook
        "plain = e.evaluate_tasks\n"
        "def spy(*a, **k):\n"
        "    print('during run', gc.isenabled(), gc.get_freeze_count() > 1000,\n"
        "          file=sys.stderr)\n"
        "    return plain(*a, **k)\n"
        "e.evaluate_tasks = spy\n"
        "planned = e.plan_tasks\n"
        "def plan(*a, **k):\n"
        "    print('while planning', gc.isenabled(), file=sys.stderr)\n"
        "    return planned(*a, **k)\n"
        "e.plan_tasks = plan\n"
        "gc.disable()\n"  # as `medq._console.main` leaves it
        "sys.argv = ['medq', *sys.argv[1:]]\n"
        "from medq.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    )
    with FakeOpenAIServer() as server:
        out = subprocess.run([sys.executable, "-c", probe, "eval", "--task", "medqa",
                              "--sample", "--limit", "2", "--model", "openai/m",
                              "--base-url", server.base_url],
                             capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "while planning False" in out.stderr
    assert "during run True True" in out.stderr


def test_a_caller_of_the_app_keeps_its_collector() -> None:
    import gc

    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(cli.app, ["eval", "--task", "medqa", "--model", "openai/m",
                                          "--sample", "--limit", "1", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_console_script_is_medqs_main() -> None:
    import tomllib

    from medq import _console

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["medq"] == "medq._console:main"
    assert callable(_console.main)
