"""Released outputs as a model backend (`medq import`).

An import is a run like any other: a `ReleaseModel` serves each item's released
response(s) as the completion of a one-message request naming the item, and the
`released` strategy reads that completion with the reader the answer kind needs — medq's
option extractor for free text, an option check for a released letter, the calculation
reader for MedCalc-Bench. Everything after the model (the call store, readings, scoring,
rescore, locks, reports) is the runner's, shared with `medq eval`.
"""

from __future__ import annotations

from collections.abc import Mapping

from medq.importers.base import ImportedItem
from medq.models.base import ModelError, UnsupportedCapabilityError
from medq.strategies.released import PROMPT_PREFIX
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
)


class ReleaseModel:
    """Serves the released responses of a predictions file, by item ID.

    Args:
        name: the model name the run is stored under.
        items: the released items by ID.
        endpoint: names the release (format, file hash and any selection such as a
            condition), so a different release is a different run and different calls.
    """

    capabilities = frozenset({Capability.GENERATE})

    def __init__(self, name: str, items: Mapping[str, ImportedItem], endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self._items = items

    async def complete(self, request: GenerationRequest) -> Completion:
        prompt = request.messages[-1].content
        item = self._items.get(prompt.removeprefix(PROMPT_PREFIX))
        if not prompt.startswith(PROMPT_PREFIX) or item is None:
            raise ModelError(f"the release has no output for request {prompt[:80]!r}")
        texts = item.responses or ("",)
        return Completion(tuple(Generation(t) for t in texts), item.prompt_tokens,
                          item.completion_tokens, model=self.name)

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        raise UnsupportedCapabilityError("released outputs cannot score options")

    async def aclose(self) -> None:
        """Nothing to release."""


