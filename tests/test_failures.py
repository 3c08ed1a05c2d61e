"""The fault matrix: a run that produced no evidence fails loudly, in bounded time.

Each case runs `medq eval` against the project's loopback server (or a dead port) and
checks the exit code, the stored status, the one-line message, how many requests were
sent, and that nothing finished was lost.
"""

from __future__ import annotations

import base64
import random
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.registry import tasks
from medq.run_settings import RunSettings, SettingError
from medq.runner import EvalSpec, RunFailedError, evaluate, run_id_for
from medq.store import Store
from medq.tasks.base import Task
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question

runner = CliRunner()
KEY = "sk-test-0123456789abcdef"


def _questions(n: int) -> tuple[Question, ...]:
    return tuple(
        Question(id=f"f{i:04d}", stem=f"Fault question number {i}?",
                 options={"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"},
                 gold="ABCD"[i % 4])
        for i in range(n)
    )


@tasks.register("faults320")
def faults320(data: Path | None, sample: bool) -> Task:
    return Task("faults320", _questions(320), "320 generated items.", "generated", "test")


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def eval_cli(base_url: str, *extra: str, task: str = "medqa") -> tuple[int, str, str]:
    args = ["eval", "--task", task, "--model", "openai/fake", "--base-url", base_url, *extra]
    if task == "medqa":
        args.append("--sample")
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)
    return result.exit_code, result.stdout, result.stderr


def error_line(stderr: str) -> str:
    """The one line saying what went wrong (after the `run <id>` line)."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def stored(store_path: Path) -> tuple[str, int, int]:
    """(status, stored items, items in error) of the only run."""
    with Store(store_path) as store:
        (run,) = store.runs()
        n, errors, _ = store.error_counts(run["run_id"])
        return run["status"], n, errors


def test_dead_port_fails_in_seconds_not_minutes(medq_home: Path) -> None:
    started = time.monotonic()
    code, stdout, stderr = eval_cli(dead_url(), task="faults320")
    elapsed = time.monotonic() - started
    line = error_line(stderr)
    assert code == 1 and "connection refused; is the server running" in line
    assert "stopped after 3 calls in a row failed" in line
    status, n, errors = stored(medq_home / "medq.sqlite")
    # At most one window of 32 calls went out before the run stopped sending.
    assert status == "failed" and n == errors and 3 <= errors <= 32
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert "acc %" not in stdout  # no results table for a run without evidence


def test_wrong_key_stops_after_a_few_and_never_stores_the_echoed_key(medq_home: Path) -> None:
    with FakeOpenAIServer(api_key="sk-the-right-one") as server:
        code, _, stderr = eval_cli(server.base_url, "--concurrency", "1")
        sent = server.count
    line = error_line(stderr)
    assert code == 1 and "HTTP 401: Incorrect API key provided: ***" in line
    assert "the server refused the key in OPENAI_API_KEY; check it" in line
    assert sent == 3  # one at a time: the third failure in a row stops the run
    assert KEY not in stderr
    exported = runner.invoke(app, ["export", "last"]).stdout
    report = runner.invoke(app, ["report", "last"]).stdout
    assert "***" in exported and KEY not in exported and KEY not in report
    for path in medq_home.glob("medq.sqlite*"):
        assert KEY.encode() not in path.read_bytes(), path


def test_no_key_at_all_says_which_variable_to_set(
    medq_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with FakeOpenAIServer(api_key="sk-needed") as server:
        code, _, stderr = eval_cli(server.base_url, "--concurrency", "2")
        assert server.count <= 4
    line = error_line(stderr)
    assert code == 1 and "OPENAI_API_KEY is not set" in line
    assert stored(medq_home / "medq.sqlite")[0] == "failed"


def test_base_url_without_v1_says_so() -> None:
    with FakeOpenAIServer() as server:
        root = server.base_url.removesuffix("/v1")
        code, _, stderr = eval_cli(root, "--concurrency", "1")
    line = error_line(stderr)
    assert code == 1 and "HTTP 404" in line
    assert f"--base-url probably lacks /v1 (try {root}/v1)" in line


def test_a_proxy_page_is_not_an_answer() -> None:
    with FakeOpenAIServer(always="html") as server:
        code, _, stderr = eval_cli(server.base_url, "--concurrency", "1")
        assert server.count == 3
    line = error_line(stderr)
    assert code == 1 and "answered with a web page (HTML page: Sign in - Example Proxy)" in line


def test_an_unknown_model_names_the_model() -> None:
    with FakeOpenAIServer(models=["served-model"]) as server:
        code, _, stderr = eval_cli(server.base_url, "--concurrency", "1")
    line = error_line(stderr)
    assert code == 1 and "does not serve model 'fake'; check --model" in line


def test_a_hung_server_becomes_recorded_errors_in_bounded_time(medq_home: Path) -> None:
    started = time.monotonic()
    with FakeOpenAIServer(latency=30) as server:
        code, _, stderr = eval_cli(server.base_url, "--timeout", "0.3", "--max-retries", "1",
                                   "--concurrency", "4", "--limit", "40")
        sent = server.count
    elapsed = time.monotonic() - started
    line = error_line(stderr)
    assert code == 1 and "no response from" in line and "within 0.3s" in line
    assert "--max-error-rate allows 2" in line and "gave up after 2 attempts" in line
    status, _, errors = stored(medq_home / "medq.sqlite")
    assert status == "failed" and errors >= 3 and sent <= 4 * 2 + 4
    assert elapsed < 15, f"{elapsed:.1f} s"


def test_timeout_and_retries_come_from_a_run_file(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=30) as server:
        config = tmp_path / "run.toml"
        config.write_text(f'task = "medqa"\nmodel = "openai/fake"\nsample = true\nlimit = 2\n'
                          f'base_url = "{server.base_url}"\ntimeout = 0.2\nmax_retries = 0\n'
                          "max_error_rate = 1.0\n", encoding="utf-8")
        result = runner.invoke(app, ["eval", "--config", str(config)])
        assert server.count == 2  # no retries
    line = error_line(result.stderr)
    assert result.exit_code == 1 and "all 2 items failed" in line and "within 0.2s" in line


def test_an_oversized_body_is_an_error_and_is_not_stored(medq_home: Path) -> None:
    # Incompressible text: the store deflates what it keeps (medq._store_codec), and the
    # sizes below must tell one stored copy from two.
    big = "Answer: A " + base64.b64encode(random.Random(0).randbytes(2_250_000)).decode()
    with FakeOpenAIServer(fixed_responder(big)) as server:
        code, _, stderr = eval_cli(server.base_url, "--max-response-mb", "1", "--limit", "4",
                                   "--max-error-rate", "1")
        line = error_line(stderr)
        assert code == 1 and "exceeds the 1.0 MB cap" in line and "--max-response-mb" in line
        size = sum(p.stat().st_size for p in medq_home.glob("medq.sqlite*"))
        assert size < 1_000_000, size
        # Under the default cap (8 MB) the same bodies are answers, each stored once.
        code, _, stderr = eval_cli(server.base_url, "--limit", "4")
        assert code == 0, stderr
    size = sum(p.stat().st_size for p in medq_home.glob("medq.sqlite*"))
    assert 0.7 * 4 * 3_000_000 < size < 1.2 * 4 * 3_000_000, size


def test_content_null_is_an_error_retried_on_resume(medq_home: Path) -> None:
    with FakeOpenAIServer(lambda body, index: None) as server:
        code, _, stderr = eval_cli(server.base_url, "--limit", "5", "--max-error-rate", "1")
    assert code == 1 and "content null" in error_line(stderr)
    with Store(medq_home / "medq.sqlite") as store:
        (run,) = store.runs()
        rows = list(store.samples(run["run_id"]))
        assert {r["status"] for r in rows} == {"error"} and store.count_calls() == 0
    with FakeOpenAIServer(fixed_responder("Answer: B"), port=server.port) as server:
        code, _, stderr = eval_cli(server.base_url, "--limit", "5")
        assert code == 0, stderr
        assert server.count == 5  # every null was asked again
    with Store(medq_home / "medq.sqlite") as store:
        assert {r["status"] for r in store.samples(run["run_id"])} == {"ok"}


def test_url_credentials_are_sent_but_never_stored(medq_home: Path) -> None:
    with FakeOpenAIServer() as server:
        host = server.base_url.removeprefix("http://")
        code, _, stderr = eval_cli(f"http://alice:PW-s3cret-42@{host}", "--limit", "2")
        assert code == 0, stderr
        auth = {r.headers.get("authorization") for r in server.requests}
    assert auth == {"Basic YWxpY2U6UFctczNjcmV0LTQy"}  # alice:PW-s3cret-42
    with Store(medq_home / "medq.sqlite") as store:
        (run,) = store.runs()
        row = store.run(run["run_id"])
    assert row["spec"]["base_url"] == server.base_url
    assert row["info"]["endpoint"] == server.base_url
    assert run["run_id"] == run_id_for(EvalSpec(task="medqa", model="openai/fake", sample=True,
                                                limit=2, base_url=server.base_url))
    for path in medq_home.glob("medq.sqlite*"):
        assert b"PW-s3cret-42" not in path.read_bytes(), path


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--concurrency", "0", "--concurrency must be an integer >= 1 or auto, not 0"),
    ("--concurrency", "-1", "--concurrency must be an integer >= 1 or auto, not -1"),
    ("--limit", "0", "--limit must be an integer >= 1, not 0"),
    ("--limit", "-5", "--limit must be an integer >= 1, not -5"),
    ("--max-retries", "-1", "--max-retries must be an integer >= 0, not -1"),
    ("--timeout", "0", "--timeout must be a number > 0, not 0.0"),
    ("--max-error-rate", "1.5", "--max-error-rate must be a number >= 0 and <= 1, not 1.5"),
])
def test_bad_settings_are_one_line_before_any_call(flag: str, value: str, message: str) -> None:
    with FakeOpenAIServer() as server:
        code, _, stderr = eval_cli(server.base_url, flag, value)
        assert server.count == 0
    assert code == 2 and error_line(stderr) == f"error: {message}"


def test_bad_settings_in_the_api_and_run_files(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="limit must be an integer >= 1, not 0"):
        EvalSpec(task="medqa", model="openai/x", limit=0)
    with pytest.raises(ValueError, match="concurrency must be an integer >= 1 or auto, not -1"):
        evaluate(EvalSpec(task="medqa", model="openai/x", sample=True), concurrency=-1)
    with pytest.raises(SettingError, match="max_error_rate"):
        RunSettings(max_error_rate=-0.1)
    config = tmp_path / "run.toml"
    config.write_text('task = "medqa"\nmodel = "openai/x"\nlimit = -5\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "--config", str(config)])
    assert result.exit_code == 2
    assert error_line(result.stderr) == (
        f"error: run file {config}: limit must be an integer >= 1, not -5")


# -- the error-rate bound, through the Python API ---------------------------------------


@tasks.register("faults40")
def faults40(data: Path | None, sample: bool) -> Task:
    return Task("faults40", _questions(40), "40 generated items.", "generated", "test")


def every_tenth_fails(request: GenerationRequest) -> str:
    from medq.models.base import ModelError

    if int(request.messages[-1].content.split("number ")[1].split("?")[0]) % 10 == 0:
        raise ModelError("HTTP 400: this one is broken")
    return "Answer: A"


def test_the_error_rate_bound_fails_a_run_and_the_summary_says_it() -> None:
    spec = EvalSpec(task="faults40", model="scripted/x")
    with Store() as store:
        model = ScriptedModel(every_tenth_fails)
        with pytest.raises(RunFailedError, match="--max-error-rate allows 2") as failed:
            evaluate(spec, store=store, model=model, concurrency=1)
        # 5% of 40 allows 2 errors: the third (item 20) stops the run; 21..39 are not sent.
        assert failed.value.run_id == run_id_for(spec, model) and len(model.calls) == 21
        assert (failed.value.summary["errors"], failed.value.summary["n"]) == (3, 18)
        assert store.run(failed.value.run_id)["status"] == "failed"
        ok = evaluate(spec, store=store, model=ScriptedModel(every_tenth_fails),
                      max_error_rate=0.1)
        assert ok.summary["errors"] == 4 and ok.summary["error_rate"] == pytest.approx(0.1)
        assert ok.summary["max_error_rate"] == 0.1 and ok.summary["status"] == "finished"


def test_cli_says_the_bound_when_some_items_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import medq.models

    monkeypatch.setattr(medq.models, "load_model",
                        lambda spec, **kw: ScriptedModel(every_tenth_fails))
    result = runner.invoke(app, ["eval", "--task", "faults40", "--model", "scripted/x",
                                 "--max-error-rate", "0.2"])
    assert result.exit_code == 0, result.output
    assert ("errors: 4 of 40 items (10.0%); a run fails above 20.0% (--max-error-rate)"
            in result.stdout)
    result = runner.invoke(app, ["eval", "--task", "faults40", "--model", "scripted/x",
                                 "--seed", "1"])
    assert result.exit_code == 1
    assert "failed: stopped after 3 of 40 items failed" in error_line(result.stderr)
