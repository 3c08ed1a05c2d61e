"""Run files: TOML (or YAML) fixing task, model, strategy and seed; `medq eval --config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.runfile import RunFileError, load_runfile, read_runfile
from medq.testing.openai_server import FakeOpenAIServer

runner = CliRunner()

TOML = """
task = "medqa"
model = "openai/fake"
sample = true
limit = 3
seed = 7
base_url = "{url}"
concurrency = 4

[strategy]
name = "self_consistency"
n = 2
temperature = 0.5
base = {{ name = "direct", max_tokens = 5 }}
"""


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_run_file_fixes_the_spec(tmp_path: Path) -> None:
    run = load_runfile(write(tmp_path, TOML.format(url="http://x")))
    assert run.spec.strategy == "self_consistency(base=direct(max_tokens=5),n=2,temperature=0.5)"
    assert (run.spec.task, run.spec.seed, run.spec.limit, run.concurrency) == ("medqa", 7, 3, 4)
    assert load_runfile(write(tmp_path, TOML.format(url="http://x"))).spec == run.spec
    assert load_runfile(tmp_path / "run.toml", limit=10, seed=None).spec.limit == 10


def test_n_per_request_is_a_run_setting(tmp_path: Path) -> None:
    base = 'task = "medqa"\nmodel = "openai/m"\n'
    run = load_runfile(write(tmp_path, base + 'n_per_request = "off"\n'))
    assert run.settings.n_per_request == "off"
    assert load_runfile(write(tmp_path, base)).settings.n_per_request == "auto"
    with pytest.raises(RunFileError, match="n_per_request must be auto, on or off, not 'x'"):
        load_runfile(write(tmp_path, base + 'n_per_request = "x"\n'))


def test_strings_relative_data_and_errors(tmp_path: Path) -> None:
    path = write(tmp_path, 'task = "medqa"\nmodel = "openai/m"\nstrategy = "cot"\ndata = "d"\n')
    values = read_runfile(path)
    assert values["strategy"] == "cot" and values["data"] == str((tmp_path / "d").resolve())
    with pytest.raises(RunFileError, match="unknown key 'stratgy'"):
        load_runfile(write(tmp_path, 'task = "medqa"\nmodel = "m"\nstratgy = "cot"\n'))
    with pytest.raises(RunFileError, match="'limit' must be int"):
        load_runfile(write(tmp_path, 'task = "medqa"\nmodel = "m"\nlimit = "5"\n'))
    with pytest.raises(RunFileError, match="'model' is required"):
        load_runfile(write(tmp_path, 'task = "medqa"\n'))
    with pytest.raises(RunFileError, match="not valid TOML"):
        load_runfile(write(tmp_path, "task = \n"))


def test_yaml_run_file(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    text = "task: medqa\nmodel: openai/m\nstrategy:\n  name: self_consistency\n  n: 3\n"
    run = load_runfile(write(tmp_path, text, "run.yaml"))
    assert run.spec.strategy == "self_consistency:n=3"


def test_eval_config_end_to_end_with_flag_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with FakeOpenAIServer() as server:
        config = write(tmp_path, TOML.format(url=server.base_url))
        result = runner.invoke(app, ["eval", "--config", str(config), "--format", "json"],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert server.count == 3  # 3 items, each asking for its 2 samples at once (n=2)
        assert {b["n"] for b in server.bodies} == {2}
        assert {b["temperature"] for b in server.bodies} == {0.5}
        assert {b["max_tokens"] for b in server.bodies} == {5}
        summary = json.loads(result.stdout)
        assert summary["n"] + summary["invalid"] == 3

        # Same file again: a finished run, no new calls. A flag overrides the file's value.
        again = runner.invoke(app, ["eval", "--config", str(config), "--limit", "4"])
        assert again.exit_code == 0, again.output
        assert server.count == 4
    shown = json.loads(runner.invoke(app, ["show", "last", "--format", "json"]).stdout)
    assert shown["n"] + shown["invalid"] == 4


def test_eval_needs_task_and_model_without_config() -> None:
    result = runner.invoke(app, ["eval", "--task", "medqa"])
    assert result.exit_code == 2 and "--config" in result.output
    missing = runner.invoke(app, ["eval", "--config", "nope.toml"])
    assert missing.exit_code == 2 and "nope.toml" in missing.output
