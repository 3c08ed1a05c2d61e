"""Plans: the grid's product, run IDs equal to plain `medq eval`'s, one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.sweep.helpers import write_plan
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, run_id_for
from medq.sweep import PlanError, load_plan, read_plan

URL = "http://127.0.0.1:9/v1"


def test_grid_expands_as_a_product_with_plain_eval_run_ids(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, [URL]))
    assert len(plan.shards) == 12
    assert [(s.spec.model, s.spec.task, s.spec.strategy) for s in plan.shards[:3]] == [
        ("openai/a", "medqa", "direct"), ("openai/a", "medqa", "cot"),
        ("openai/a", "medmcqa", "direct")]
    for shard in plan.shards:
        plain = EvalSpec(task=shard.spec.task, model=shard.spec.model,
                         strategy=shard.spec.strategy, sample=True, limit=4, base_url=URL)
        assert shard.shard_id == run_id_for(plain)
    assert plan.budgets == {URL: 32}
    assert {s.gpus for s in plan.shards} == {0.0}


def test_probes_apply_to_every_shard_with_plain_eval_run_ids(tmp_path: Path) -> None:
    path = tmp_path / "probed.toml"
    path.write_text(f'models = ["openai/a"]\ntasks = ["medqa"]\nsample = true\n'
                    f'base_url = "{URL}"\nprobes = ["permute:mode=cyclic"]\n')
    (shard,) = load_plan(path).shards
    plain = EvalSpec(task="medqa", model="openai/a", sample=True, base_url=URL,
                     probes=("permute:mode=cyclic",))
    assert shard.shard_id == run_id_for(plain) and "+permute-" in shard.shard_id


def test_saved_plan_reads_back_the_same(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, [URL]))
    plan.save()
    again = read_plan(tmp_path / "grid.toml")
    assert again.shards == plan.shards and dict(again.budgets) == dict(plan.budgets)


def test_hf_shards_ask_for_a_gpu_without_loading_weights(tmp_path: Path) -> None:
    path = tmp_path / "hf.toml"
    path.write_text('models = ["hf/not-downloaded/model"]\ntasks = ["medqa"]\nsample = true\n')
    (shard,) = load_plan(path).shards
    assert shard.gpus == 1.0 and shard.endpoint == "not-downloaded/model"


@pytest.mark.parametrize(("text", "says"), [
    ('models = ["openai/a"]\ntasks = ["medqa"]\nsedes = [1]\n', "unknown key 'sedes'"),
    ('models = ["openai/a"]\n', "'tasks' is required"),
    ('models = ["openai/a"]\ntasks = ["medqa"]\nlimit = "5"\n', "'limit' must be int"),
    ('models = ["openai/a"]\ntasks = []\n', "'tasks' is an empty list"),
    ('models = ["openai/a"]\ntasks = ["medqa"]\nsample = true\nconcurrency = 0\n',
     "must be a positive integer"),
    ('models = ["openai/a"]\ntasks = ["medqa"]\nsample = true\nbase_url = "http://x/v1"\n'
     '[budgets]\n"http://y/v1" = 4\n', "which no shard calls"),
    ('models = ["openai/a", "openai/a"]\ntasks = ["medqa"]\nsample = true\n',
     "are the same run"),
    ("models = [\n", "not valid TOML"),
    ('models = ["openai/a"]\ntasks = ["medqa"]\nprobes = ["nosuch"]\n', "'probes'"),
])
def test_bad_plans_are_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PlanError, match=says):
        load_plan(path)
    result = CliRunner().invoke(app, ["sweep", "plan", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: plan ") and says in lines[0]


def test_status_of_a_plan_never_planned_says_so(tmp_path: Path) -> None:
    path = write_plan(tmp_path, [URL])
    result = CliRunner().invoke(app, ["sweep", "status", str(path)])
    assert result.exit_code == 2 and "not planned yet" in result.output


def test_unknown_executor_is_one_line(tmp_path: Path) -> None:
    path = write_plan(tmp_path, [URL])
    result = CliRunner().invoke(app, ["sweep", "run", str(path), "--executor", "slurm"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --executor must be local or ray, not 'slurm'"


def test_ray_executor_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from medq._extras import MissingExtraError
    from medq.sweep import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'medq\[ray\]'$"):
        RayExecutor().map(print, [1])
