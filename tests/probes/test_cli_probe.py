"""`medq probe`, `medq eval --probe`, `medq show` of a probed run, against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.probes import split_probes
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

runner = CliRunner()
PROBE_KEYS = {"probe", "consistent_accuracy", "flip_rate", "position_recall", "rstd",
              "delta", "delta_ci_low", "delta_ci_high", "p_value"}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def medq(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_split_probes_keeps_parameters_with_their_probe() -> None:
    assert split_probes(["permute:mode=cyclic,bias:kind=false_consensus,nota,mask:stem=1.0"]) \
        == ["permute:mode=cyclic", "bias:kind=false_consensus", "nota", "mask:stem=1.0"]
    assert split_probes(["permute:mode=random,k=5,nota", "permute(gold_at=D)"]) == [
        "permute:mode=random,k=5", "nota", "permute(gold_at=D)"]


def test_probe_command_prints_one_table_and_reuses_runs() -> None:
    args = ["probe", "--task", "medqa", "--sample", "--model", "openai/fake", "--limit", "12",
            "--probes", "permute:mode=cyclic,bias:kind=false_consensus,nota,mask:stem=1.0",
            "--resamples", "500"]
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        first = runner.invoke(app, [*args, "--base-url", server.base_url])
        assert first.exit_code == 0, first.output
        # clean 12 + cyclic 4 x 12 + bias, nota and mask 12 each; shift 0 is the clean
        # prompt itself, so its 12 calls come from the store
        assert server.count == 12 + 36 + 36
        again = runner.invoke(app, [*args, "--base-url", server.base_url, "--format", "json"])
        assert again.exit_code == 0, again.output
        assert server.count == 12 + 36 + 36  # every run reused: no new call
    assert first.stdout.count("medqa-direct") == 5
    for label in ("permute:mode=cyclic", "bias:kind=false_consensus", "nota:mode=replace_gold",
                  "mask:stem=1.0"):
        assert f"│ {label} " in first.stdout
    assert "Holm-adjusted over 4 probes" in first.stdout
    table = json.loads(again.stdout)
    assert [r["label"] for r in table["rows"]] == [
        "permute:mode=cyclic", "bias:kind=false_consensus", "nota:mode=replace_gold",
        "mask:stem=1.0"]
    cyclic = table["rows"][0]
    assert cyclic["metrics"]["position_recall"] == {"A": 0.0, "B": 1.0, "C": 0.0, "D": 0.0}
    assert cyclic["metrics"]["consistent_accuracy"] == 0.0
    assert all(r["p_holm"] >= r["p_value"] for r in table["rows"])


def test_eval_probe_and_show_json_carry_the_probe_keys() -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        base = ["eval", "--task", "medqa", "--sample", "--model", "openai/fake", "--limit", "8",
                "--base-url", server.base_url]
        lonely = runner.invoke(app, [*base, "--probe", "permute", "--probe", "nota"])
        assert lonely.exit_code == 0, lonely.output
        assert "run medqa-direct+permute+nota-" in lonely.stderr
        alone = json.loads(medq("show", "last", "--format", "json"))
        assert PROBE_KEYS <= alone.keys()
        assert alone["probe"] == ["permute:mode=cyclic",
                                  "nota:mode=replace_gold,text=None of the other answers"]
        assert alone["delta"] is None and alone["p_value"] is None  # no clean run yet
        medq(*base)
        medq(*base, "--probe", "permute:mode=cyclic")
    shown = json.loads(medq("show", "last", "--format", "json"))
    assert shown["probe"] == ["permute:mode=cyclic"] and shown["flip_rate"] == 1.0
    assert shown["delta"] < 0 and shown["delta_ci_low"] <= shown["delta"] <= shown["delta_ci_high"]
    assert 0 <= shown["p_value"] <= 1
    text = medq("show", "last")
    assert "probe: permute:mode=cyclic; consistent correct 0.0 %, flip rate 100.0 %" in text
    assert "vs clean run medqa-direct-" in text


@pytest.mark.parametrize(("args", "message"), [
    (["--probe", "permute:mode=sideways"], "probe 'permute': parameter mode='sideways'"),
    (["--probe", "bias"], "probe 'bias': needs parameter 'kind'"),
    (["--task", "medcalc", "--strategy", "calc_direct", "--probe", "nota"],
     "probes apply to multiple-choice tasks only"),
])
def test_bad_probes_fail_in_one_line_before_any_call(args: list[str], message: str) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        flags = {"--task": "medqa", **dict(zip(args[::2], args[1::2], strict=True))}
        argv = ["eval", "--sample", "--model", "openai/fake", "--base-url", server.base_url,
                *(x for kv in flags.items() for x in kv)]
        result = runner.invoke(app, argv)
        assert server.count == 0
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_probe_compares_stored_runs(tmp_path: Path) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        base = ["eval", "--task", "medqa", "--sample", "--model", "openai/fake", "--limit", "6",
                "--base-url", server.base_url]
        medq(*base)
        clean = json.loads(medq("show", "last", "--format", "json"))["run_id"]
        medq(*base, "--probe", "permute:mode=reverse")
        probed = json.loads(medq("show", "last", "--format", "json"))["run_id"]
    out = medq("probe", "--clean", clean, "--run", probed, "--format", "markdown")
    assert out.startswith("| probe | run |") and "permute:mode=reverse" in out
    result = runner.invoke(app, ["probe", "--clean", clean])
    assert result.exit_code == 2 and "needs at least one --run" in result.stderr
