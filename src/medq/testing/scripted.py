"""A scripted model for tests: answers from a function or a table, and records every call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from medq.models.base import ModelError, TransientModelError, UnsupportedCapabilityError
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
)

Responder = Callable[[GenerationRequest], str]


class ScriptedModel:
    """A Model whose replies come from `respond(request)`; every request is kept in `calls`.

    Args:
        respond: request -> response text. Raise a ModelError subclass to simulate failure.
        name: the model name used in cache keys.
        latency: seconds to wait per call (to exercise concurrency).
        fail_first: the first N calls raise TransientModelError (to exercise retries).
    """

    capabilities = frozenset({Capability.GENERATE})

    def __init__(
        self,
        respond: Responder,
        *,
        name: str = "scripted/test",
        latency: float = 0.0,
        fail_first: int = 0,
    ) -> None:
        self.respond = respond
        self.name = name
        self.endpoint = "scripted"
        self.latency = latency
        self.fail_first = fail_first
        self.calls: list[GenerationRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: GenerationRequest) -> Completion:
        self.calls.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if len(self.calls) <= self.fail_first:
                raise TransientModelError("scripted transient failure")
            texts = [self.respond(request) for _ in range(request.n)]
        finally:
            self.in_flight -= 1
        return Completion(
            tuple(Generation(t, "stop") for t in texts),
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
            completion_tokens=sum(len(t.split()) for t in texts),
            model=self.name,
        )

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        raise UnsupportedCapabilityError(f"{self.name} cannot score options")

    async def aclose(self) -> None:
        return None


def failing(message: str = "scripted permanent failure") -> Responder:
    """A responder that always fails for good."""

    def respond(request: GenerationRequest) -> str:
        raise ModelError(message)

    return respond
