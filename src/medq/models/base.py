"""The Model protocol every backend implements, and the errors backends raise.

A backend declares its `capabilities`; asking for a scoring mode it cannot serve raises
`UnsupportedCapabilityError` up front, never a silent chance-level score.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    GenerationRequest,
    LoglikelihoodRequest,
)


class ModelError(Exception):
    """A model call failed for good; the item is recorded as an error with this reason."""


class TransientModelError(ModelError):
    """A failure worth retrying (429, 5xx, timeout, dropped connection).

    `retry_after` carries the server's Retry-After hint in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientModelError):
    """A 429: the server's rate limit. Retried like any transient failure (after its
    Retry-After), and a signal to an adaptive window (`medq.concurrency`) to halve."""


class FatalModelError(ModelError):
    """A failure that retrying cannot fix and that every other call will meet too: the key
    was refused (401/403), the URL or model does not exist (404), nothing listens at the
    address, or the server is not an OpenAI-compatible API at all.

    The call log stops the run after a few of these in a row (see `medq.calls.CallLog`)
    instead of paying for the same failure on every item. `hint` says what to fix, e.g.
    "--base-url probably lacks /v1"; `str()` carries it after the server's own message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.hint = hint


class UnsupportedCapabilityError(ModelError):
    """The backend cannot serve what was asked (e.g. log-probabilities on llama.cpp)."""


@runtime_checkable
class Model(Protocol):
    """A language model backend.

    Attributes:
        name: the model spec as the user wrote it, e.g. ``openai/gpt-4o-mini``.
        endpoint: where it is served (base URL or local path); part of every cache key.
        capabilities: what this backend can serve.
    """

    name: str
    endpoint: str
    capabilities: frozenset[Capability]

    async def complete(self, request: GenerationRequest) -> Completion:
        """Generate `request.n` completions for a chat request."""
        ...

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        """Score each continuation given the shared context (LOGLIKELIHOOD capability)."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and memory."""
        ...


def require(model: Model, capability: Capability, purpose: str) -> None:
    """Raise a clear error when `model` cannot serve `capability` for `purpose`."""
    if capability not in model.capabilities:
        served = ", ".join(sorted(c.value for c in model.capabilities)) or "nothing"
        raise UnsupportedCapabilityError(
            f"{purpose} needs the {capability.value!r} capability, which model "
            f"{model.name!r} does not offer (it serves: {served})."
        )
