"""The cached, recorded, concurrency-bounded view of a model that strategies talk to.

Every call goes through `CallLog`: it looks the call up in the store by a content hash of
(model, endpoint, kind, messages, generation parameters, sample index), makes it only on a
miss, under the run's one concurrency window and the one retry policy, and records it. A
strategy sees an `ItemModel`, which is a `Model` that also tallies the item's calls and
tokens.

A few `FatalModelError`s in a row (a refused key, a wrong URL, nothing listening) halt the
log: no further call is sent, and every later one raises `RunHaltedError`, which ends the
run rather than the item, since every item would fail the same way.
"""

from __future__ import annotations

import contextlib
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from medq.concurrency import DEFAULT_MAX_CONCURRENCY, Window, WindowStats, window_for
from medq.models.base import FatalModelError, Model, ModelError
from medq.models.retry import RetryPolicy, with_retries
from medq.run_settings import check_int
from medq.store import Store, content_hash
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    TokenLogprob,
    ToolCall,
)

if TYPE_CHECKING:
    from medq.coalesce import SampleCoalescer

#: Consecutive fatal failures after which a run stops sending; a few rather than one, so a
#: single odd reply cannot end a run that works.
FAIL_FAST_AFTER = 3


class CacheMissError(ModelError):
    """A cache-only model (used by `rescore`) was asked for a call it has not stored."""


class RunHaltedError(Exception):
    """The run stopped sending calls; `reason` says why and what to fix.

    Deliberately not a `ModelError`: strategies treat those as one item's failure, while
    this ends the whole run.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _messages_json(messages: Any) -> list[dict[str, Any]]:
    """Messages as the call key sees them: an image enters by its content hash and type
    (not its path or bytes), and only when there is one, so text-only keys are unchanged."""
    out: list[dict[str, Any]] = []
    for m in messages:
        entry: dict[str, Any] = {"role": m.role, "content": m.content}
        if getattr(m, "images", ()):
            entry["images"] = [image.to_json() for image in m.images]
        out.append(entry)
    return out


def completion_to_json(completion: Completion) -> dict[str, Any]:
    """A Completion as plain JSON.

    ``tool_calls`` is written only for generations that have some, so a completion without
    tool calls is stored exactly as before tool calling existed.
    """
    # Field by field rather than `dataclasses.asdict` (a deep copy, ~20 µs a call); the
    # result equals asdict's without `key` (tests/test_calls_json.py pins it).
    generations = []
    for g in completion.generations:
        entry: dict[str, Any] = {
            "text": g.text,
            "finish_reason": g.finish_reason,
            "logprobs": None if g.logprobs is None else [
                {"token": t.token, "logprob": t.logprob, "top": [tuple(p) for p in t.top]}
                for t in g.logprobs],
        }
        if g.tool_calls:
            entry["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments}
                                   for c in g.tool_calls]
        generations.append(entry)
    return {"generations": generations, "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens, "model": completion.model}


def completion_from_json(data: dict[str, Any], key: str | None = None) -> Completion:
    """Inverse of `completion_to_json`; `key` is the stored call's key, when known."""
    generations = []
    for g in data["generations"]:
        logprobs = None
        if g.get("logprobs") is not None:
            logprobs = tuple(
                TokenLogprob(t["token"], t["logprob"], tuple((a, b) for a, b in t["top"]))
                for t in g["logprobs"]
            )
        tool_calls = tuple(
            ToolCall(c["id"], c["name"], c["arguments"]) for c in g.get("tool_calls") or ()
        )
        generations.append(Generation(g["text"], g.get("finish_reason"), logprobs, tool_calls))
    return Completion(
        tuple(generations), data["prompt_tokens"], data["completion_tokens"], data.get("model"),
        key,
    )


class Limiter(Protocol):
    """A concurrency budget shared beyond this process (a sweep's shards): `slot(endpoint)`
    is held around each live call to that endpoint, inside the run's own window."""

    def slot(self, endpoint: str) -> AbstractAsyncContextManager[Any]: ...


@dataclass
class CallLog:
    """Shared by all items of a run: the store, the live model, the concurrency window.

    Args:
        model: the live backend, or None for cache-only replays (`rescore`).
        store: where calls are cached and recorded.
        concurrency: at most this many live calls in flight at once, or ``"auto"`` for an
            adaptive window up to `max_concurrency` (`medq.concurrency`; when no `window`).
        max_concurrency: the ceiling of ``concurrency="auto"``.
        retry: the retry policy for transient failures.
        fail_fast_after: halt after this many `FatalModelError`s in a row (0: never).
        limiter: a budget shared with other processes (`medq.sweep`), or None.
        window: the concurrency window (`medq.concurrency`: fixed or adaptive); default a
            fixed window of `concurrency`.
        n_per_request: ``auto``, ``on`` or ``off``: whether the samples of one request
            are asked for in one call (`medq.coalesce`).
    """

    model: Model | None
    store: Store
    concurrency: int | str = 32
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    name: str = ""
    endpoint: str = ""
    capabilities: frozenset[Capability] = frozenset()
    new_calls: int = 0
    roles: dict[str, CallLog] = field(default_factory=dict)
    fail_fast_after: int = FAIL_FAST_AFTER
    halted: str | None = None
    limiter: Limiter | None = None
    window: Window | None = None
    n_per_request: str = "auto"
    samples: SampleCoalescer | None = field(default=None, init=False, repr=False)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        if self.window is None:
            self._window: Window = window_for(self.concurrency, self.max_concurrency)
        else:
            check_int("concurrency", self.concurrency, 1)
            self._window = self.window
        self._fatal_streak = 0
        from medq.coalesce import sample_coalescer

        self.samples = sample_coalescer(self)

    def window_stats(self) -> WindowStats:
        """What the concurrency window did so far: its size, peak and the 429s it saw."""
        return self._window.stats()

    def halt(self, reason: str) -> None:
        """Send no further calls; every later `fetch` raises `RunHaltedError(reason)`."""
        if self.halted is None:
            self.halted = reason

    def bind(self, name: str, endpoint: str, capabilities: frozenset[Capability]) -> None:
        """Set the identity used in cache keys (defaults to the live model's)."""
        self.name, self.endpoint, self.capabilities = name, endpoint, capabilities

    def key(self, kind: str, request: dict[str, Any]) -> str:
        """The call's key in the store: a hash of model, endpoint, kind and request."""
        identity = {"model": self.name, "endpoint": self.endpoint, "kind": kind}
        return content_hash({**identity, **request})

    async def fetch(
        self, kind: str, request: dict[str, Any], call: Any, tally: ItemTally,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Return the stored response for `request`, calling `call()` on a miss."""
        key = key or self.key(kind, request)
        tally.keys.append(key)
        cached = self.store.get_call(key)
        if cached is not None:
            tally.add(cached.prompt_tokens, cached.completion_tokens, new=False)
            return cached.response
        if self.model is None:
            raise CacheMissError(f"no stored response for call {key[:12]} (rescore makes no calls)")
        if self.halted is not None:
            raise RunHaltedError(self.halted)
        # Only live calls take a slot of a shared budget: cache hits cost the server nothing.
        shared = self.limiter.slot(self.endpoint) if self.limiter else contextlib.nullcontext()
        async with self._window.slot() as attempt, shared:
            # Checked after the wait too: calls queued behind the window must not go out.
            if self.halted is not None:
                raise RunHaltedError(self.halted)
            started = time.perf_counter()
            try:
                response, prompt_tokens, completion_tokens = await with_retries(
                    lambda: attempt(call), self.retry)
            except ModelError as exc:
                self.store.put_call_error(key, str(exc), tally.run_id, tally.item_id)
                if isinstance(exc, FatalModelError):
                    self._fatal_streak += 1
                    if self.fail_fast_after and self._fatal_streak >= self.fail_fast_after:
                        self.halt(f"stopped after {self._fatal_streak} calls in a row "
                                  f"failed: {exc}")
                raise
            self._fatal_streak = 0
            latency = time.perf_counter() - started
        self.new_calls += 1
        self.store.put_call(
            key,
            model=self.name,
            endpoint=self.endpoint,
            kind=kind,
            request=request,
            response=response,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=latency,
            defer=True,  # written with the item's result, in one transaction
        )
        tally.add(prompt_tokens, completion_tokens, new=True)
        return response


@dataclass
class ItemTally:
    """Calls and tokens spent on one item."""

    run_id: str | None
    item_id: str | None
    calls: int = 0
    new_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    keys: list[str] = field(default_factory=list)
    images: set[str] = field(default_factory=set)  # hashes of the images the calls showed

    def add(self, prompt_tokens: int, completion_tokens: int, *, new: bool) -> None:
        self.calls += 1
        self.new_calls += int(new)
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens


class ItemModel:
    """The Model a strategy sees for one item: cached, recorded, tallied.

    `role(name)` gives the run's model for another role (a simulated patient, a judge),
    through the same store and into the same item's tally.
    """

    def __init__(self, log: CallLog, tally: ItemTally) -> None:
        self._log = log
        self.tally = tally
        self.name = log.name
        self.endpoint = log.endpoint
        self.capabilities = log.capabilities

    @property
    def roles(self) -> frozenset[str]:
        """The names of the other roles the run has a model for."""
        return frozenset(self._log.roles)

    def role(self, name: str, *, default_self: bool = True) -> ItemModel:
        """The model playing role `name`; this model when the run has none for it (and
        `default_self`), else a LookupError naming the roles there are."""
        log = self._log.roles.get(name)
        if log is None:
            if default_self:
                return self
            known = ", ".join(sorted(self._log.roles)) or "none"
            raise LookupError(f"this run has no model for role {name!r} (roles: {known})")
        return ItemModel(log, self.tally)

    async def complete(self, request: GenerationRequest) -> Completion:
        if any(m.images for m in request.messages) and (
                Capability.VISION not in self.capabilities):
            from medq.models.base import UnsupportedCapabilityError

            raise UnsupportedCapabilityError(
                f"model {self.name!r} does not take images (no 'vision' capability), and "
                f"this request shows {sum(len(m.images) for m in request.messages)}")
        self.tally.images.update(i.sha256 for m in request.messages for i in m.images)
        live = self._log.model

        async def call() -> tuple[dict[str, Any], int, int]:
            assert live is not None
            completion = await live.complete(request)
            return (
                completion_to_json(completion),
                completion.prompt_tokens,
                completion.completion_tokens,
            )

        payload = {"messages": _messages_json(request.messages), **request.params()}
        key = self._log.key("chat", payload)
        samples = self._log.samples
        if samples is not None and samples.takes(request):
            # Sibling samples of this request are asked for in one call (medq.coalesce).
            response = await samples.fetch(request, payload, key, self.tally, lambda: (
                self._log.fetch("chat", payload, call, self.tally, key)))
        else:
            response = await self._log.fetch("chat", payload, call, self.tally, key)
        # The key lets the answer's reading point at the stored response (rescore).
        return completion_from_json(response, key)

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        live = self._log.model

        async def call() -> tuple[dict[str, Any], int, int]:
            assert live is not None
            scores = await live.loglikelihoods(request)
            return {"scores": [asdict(s) for s in scores]}, 0, 0

        payload = {
            "messages": _messages_json(request.context),
            "continuations": list(request.continuations),
        }
        response = await self._log.fetch("loglikelihood", payload, call, self.tally)
        return [ContinuationScore(**s) for s in response["scores"]]

    async def aclose(self) -> None:
        """Nothing to release: the run owns the live model."""
