"""Fixtures for model-backend tests: a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from medq.models.openai_compat import OpenAICompatModel
from medq.testing.openai_server import FakeOpenAIServer


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    """A default fake server (letter responder, no latency, no faults)."""
    async with FakeOpenAIServer() as running:
        yield running


@pytest.fixture
async def make_model() -> AsyncIterator[Callable[..., OpenAICompatModel]]:
    """Build OpenAICompatModel instances that are closed when the test ends."""
    built: list[OpenAICompatModel] = []

    def make(base_url: str, model: str = "fake-model", **kwargs: Any) -> OpenAICompatModel:
        instance = OpenAICompatModel(model, base_url=base_url, **kwargs)
        built.append(instance)
        return instance

    yield make
    for instance in built:
        await instance.aclose()
