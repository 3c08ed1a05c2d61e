"""What keeps `medq`'s start-up light (issue 19) gives what the full path gives."""

from __future__ import annotations

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


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["evl"], ["-h", "eval"]])
def test_the_whole_app_answers_what_names_no_command(args: list[str]) -> None:
    assert cli._app_for(args) is cli.app


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
