"""Sampling a base strategy: a view of the model that sends every request as one sample.
"""

from __future__ import annotations

from dataclasses import replace

from medq.models.base import Model
from medq.types import (
    Completion,
    ContinuationScore,
    GenerationRequest,
    LoglikelihoodRequest,
)


class SamplingModel:
    """`model`, with every generation request sent as sample `index` of `count` at
    `temperature`."""

    def __init__(self, model: Model, index: int, count: int, temperature: float) -> None:
        self._model = model
        self.index = index
        self.count = count
        self.temperature = temperature
        self.name = model.name
        self.endpoint = model.endpoint
        self.capabilities = model.capabilities

    async def complete(self, request: GenerationRequest) -> Completion:
        sampled = replace(
            request,
            temperature=self.temperature,
            sample_index=request.sample_index * self.count + self.index,
        )
        return await self._model.complete(sampled)

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        return await self._model.loglikelihoods(request)

    async def aclose(self) -> None:
        """The wrapped model belongs to the caller."""
