"""Hub loading offline: the cache first, one quick connection attempt, never a retry loop.

Every address here is on the loopback interface (a closed port, or a listening socket of
the test's own); nothing reaches the network.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub
import huggingface_hub.constants
import pytest
from typer.testing import CliRunner

import medq.hub
from medq.cli import app
from medq.hub import HubFile, HubUnreachableError, download, require_reachable, unreachable
from medq.tasks import DatasetUnavailableError, load_task


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connecting is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def online_but_unreachable(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    """HF_HUB_OFFLINE unset, the Hub endpoint a closed loopback port, no proxy."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for variable in medq.hub._PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Each hf_hub_download call's keyword arguments (the real function still runs)."""
    calls: list[dict[str, Any]] = []
    real = huggingface_hub.hf_hub_download

    def spy(**kwargs: Any) -> str:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", spy)
    yield calls


FILE = HubFile("GBaker/MedQA-USMLE-4-options", "phrases_no_exclude_test.jsonl", "0" * 40)


@pytest.mark.usefixtures("online_but_unreachable")
def test_unreachable_hub_fails_without_retrying(downloads: list[dict[str, Any]]) -> None:
    with pytest.raises(HubUnreachableError, match="127.0.0.1"):
        download(FILE)
    # The cache was looked at; the network download (which retries) was never started.
    assert [c.get("local_files_only") for c in downloads] == [True]


@pytest.mark.usefixtures("online_but_unreachable")
def test_unreachable_task_load_is_the_one_sentence_data_hint() -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        load_task("medqa")
    message = str(info.value)
    assert "--data PATH" in message and message.count(". ") == 0 and "\n" not in message


def test_hf_hub_offline_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, downloads: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a connection was attempted with HF_HUB_OFFLINE=1")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(HubUnreachableError, match="HF_HUB_OFFLINE"):
        download(FILE)
    assert [c.get("local_files_only") for c in downloads] == [True]
    with pytest.raises(HubUnreachableError, match="HF_HUB_OFFLINE"):
        require_reachable()


@pytest.mark.usefixtures("online_but_unreachable")
def test_a_cached_file_needs_no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cached = tmp_path / "cached.jsonl"
    cached.write_text("{}\n")

    def from_cache(**kwargs: Any) -> str:
        assert kwargs["local_files_only"] is True
        return str(cached)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", from_cache)
    assert download(FILE) == cached


def test_a_proxy_is_probed_instead_of_the_endpoint(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{closed_port}")
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        assert unreachable() is None
    monkeypatch.delenv("HTTPS_PROXY")
    for variable in medq.hub._PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert f"127.0.0.1:{closed_port} unreachable" in (unreachable() or "")


@pytest.mark.usefixtures("online_but_unreachable")
def test_cli_eval_without_data_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    result = CliRunner().invoke(app, ["eval", "--task", "medqa", "--model", "openai/x"])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--data PATH" in errors[0]
    assert "Retrying" not in result.stderr


@pytest.mark.usefixtures("online_but_unreachable")
def test_medrag_corpus_download_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from medq.retrieval.base import RetrievalError
    from medq.retrieval.hub_corpora import add_medrag_corpus

    calls: list[dict[str, Any]] = []
    real = huggingface_hub.snapshot_download

    def spy(**kwargs: Any) -> str:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", spy)
    with pytest.raises(RetrievalError, match="offline, add the snippets from a local copy"):
        add_medrag_corpus("textbooks", "textbooks", revision="0" * 40)
    assert [c.get("local_files_only") for c in calls] == [True]
