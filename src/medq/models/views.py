"""Views of a model that change how it is called, not what it is.

- `GenerationDefaults`: ``--temperature`` / ``--max-tokens`` for every call a strategy
  makes, unless the strategy fixes its own (a request that already asks for a sampling
  temperature above 0, or for a completion limit, keeps it). The values enter the view's
  `endpoint`, so a run with other defaults is another run (its identity and cache keys
  differ) and the run's recorded endpoint says which values were in force.
- `CallBudget`: ``--max-calls N``. One `Budget` is shared by every model of a run, the
  evaluated one and each role's (a judge, a patient), so N bounds all their calls together.
  Each view sits behind the call cache, so it sees only new calls; after N it holds further
  calls until those in flight on any of the models have finished (and been stored), then
  cancels them, which stops the run as Ctrl-C does: finished items are kept and the same
  command resumes. A request for n samples (`medq.coalesce`) counts as n calls, as the n
  requests it replaces would; one admitted below the budget may pass it by up to n - 1.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from medq.models.base import Model
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    GenerationRequest,
    LoglikelihoodRequest,
)


class GenerationDefaults:
    """`model` with a default temperature and completion limit for every request.

    Args:
        model: the backend.
        temperature: used where a request asks for greedy decoding (temperature 0);
            None leaves requests as they are.
        max_tokens: used where a request sets no completion limit; None: as they are.
    """

    def __init__(self, model: Model, *, temperature: float | None = None,
                 max_tokens: int | None = None) -> None:
        self.inner = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.name = model.name
        self.capabilities: frozenset[Capability] = model.capabilities
        settings = [f"{k}={v}" for k, v in (("temperature", temperature),
                                             ("max_tokens", max_tokens)) if v is not None]
        self.endpoint = model.endpoint + (f"#defaults:{','.join(settings)}" if settings else "")

    @property
    def effective(self) -> dict[str, float | int | None]:
        """The defaults in force, as the run records them."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def apply(self, request: GenerationRequest) -> GenerationRequest:
        """`request` with the defaults filled in where the strategy left them open."""
        changes: dict[str, object] = {}
        if self.temperature is not None and request.temperature == 0.0:
            changes["temperature"] = self.temperature
        if self.max_tokens is not None and request.max_tokens is None:
            changes["max_tokens"] = self.max_tokens
        return replace(request, **changes) if changes else request  # type: ignore[arg-type]

    async def complete(self, request: GenerationRequest) -> Completion:
        return await self.inner.complete(self.apply(request))

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        return await self.inner.loglikelihoods(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Budget:
    """A number of new calls shared by several models (`CallBudget` views of each).

    Attributes:
        max_calls: the calls allowed.
        made: calls admitted so far, over all the models.
        exhausted: whether a call was held back by the budget.
    """

    def __init__(self, max_calls: int) -> None:
        if max_calls < 0:
            raise ValueError(f"--max-calls must be 0 or more, not {max_calls}")
        self.max_calls = max_calls
        self.made = 0
        self.exhausted = False
        self._in_flight = 0
        self._drained: asyncio.Event | None = None

    async def admit(self, calls: int = 1) -> None:
        """Count `calls` calls (a request for n samples counts n), or, over budget, wait
        for the calls in flight and cancel."""
        if self.made >= self.max_calls:
            self.exhausted = True
            if self._drained is None:
                self._drained = asyncio.Event()
            if self._in_flight == 0:
                self._drained.set()
            await self._drained.wait()
            # Like Ctrl-C: the run stops, finished items are stored, the rest resume later.
            raise asyncio.CancelledError("--max-calls budget reached")
        self.made += calls
        self._in_flight += 1

    def release(self) -> None:
        """A call admitted by `admit` has finished (answered or failed)."""
        self._in_flight -= 1
        if self.exhausted and self._in_flight == 0 and self._drained is not None:
            self._drained.set()


class CallBudget:
    """`model`, counting its calls against `budget` and stopping the run cleanly when the
    budget is spent.

    Args:
        model: the backend.
        budget: a `Budget` shared with the run's other models, or a number of calls for
            this model alone.
    """

    def __init__(self, model: Model, budget: Budget | int) -> None:
        self.inner = model
        self.budget = budget if isinstance(budget, Budget) else Budget(budget)
        self.name = model.name
        self.endpoint = model.endpoint
        self.capabilities: frozenset[Capability] = model.capabilities

    @property
    def made(self) -> int:
        """Calls admitted by the budget (over every model sharing it)."""
        return self.budget.made

    @property
    def exhausted(self) -> bool:
        """Whether the budget held a call back."""
        return self.budget.exhausted

    async def complete(self, request: GenerationRequest) -> Completion:
        await self.budget.admit(request.n)
        try:
            return await self.inner.complete(request)
        finally:
            self.budget.release()

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        await self.budget.admit()
        try:
            return await self.inner.loglikelihoods(request)
        finally:
            self.budget.release()

    async def aclose(self) -> None:
        await self.inner.aclose()
