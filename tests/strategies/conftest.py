"""Shared fixtures for strategy tests: each strategy run end to end on a tiny local model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medq.runner import EvalSpec, evaluate
from medq.store import Store

RunTiny = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Llama and its locally trained tokenizer, built once per session."""
    tiny_model = pytest.importorskip("tests.models.tiny_model", reason="needs torch")
    return tiny_model.build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def run_tiny(tiny_model_dir: Path) -> RunTiny:
    """Evaluate a strategy on the first `limit` bundled MedQA items with the tiny model."""

    def run(strategy: str, limit: int = 2) -> list[dict[str, Any]]:
        spec = EvalSpec(task="medqa", sample=True, limit=limit,
                        model=f"hf/{tiny_model_dir}", strategy=strategy)
        with Store() as store:
            result = evaluate(spec, store=store, progress=False)
            return list(store.samples(result.run_id))

    return run
