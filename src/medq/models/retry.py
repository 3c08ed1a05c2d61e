"""The one retry policy: exponential backoff with jitter, on transient model errors only.

Backends make one attempt per call and raise `TransientModelError` for failures worth
retrying (429, 5xx, timeouts, dropped connections, malformed bodies); the runner wraps each
call in `with_retries`. Anything else (a 400, an unsupported capability) fails at once.

Example::

    policy = RetryPolicy(max_attempts=4, base_delay=1.0)
    [policy.backoff(k) for k in (1, 2, 3)]  # [1.0, 2.0, 4.0]
    completion = await with_retries(lambda: model.complete(request), policy)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from medq.models.base import ModelError, TransientModelError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    The delay before retry number ``k`` (k = 1 after the first failed attempt) is

        backoff = min(max_delay, base_delay * 2 ** (k - 1))
        delay   = backoff * (1 - jitter * u),          u ~ Uniform[0, 1)
        delay   = max(delay, min(retry_after, max_delay))   when the server sent Retry-After

    Jitter is *proportional* and only ever shortens the wait, so a delay lies in
    ``(backoff * (1 - jitter), backoff]`` and never exceeds ``max_delay``: with ``jitter=1``
    this is AWS's "full jitter", with ``jitter=0`` plain exponential backoff. A server's
    Retry-After is honoured when it asks for longer than the backoff, but is also capped at
    ``max_delay`` so one misconfigured proxy cannot stall a run for an hour; the attempt
    budget still bounds the total.

    Attributes:
        max_attempts: total attempts including the first (1 = never retry).
        base_delay: seconds before the first retry, before jitter.
        max_delay: cap on any single delay, Retry-After included.
        jitter: fraction in [0, 1] of each delay that is randomised away.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be a fraction in [0, 1], got {self.jitter}")

    def backoff(self, retry: int) -> float:
        """The un-jittered delay before retry number `retry` (1-based), capped."""
        # The exponent is clamped so huge attempt counts cannot overflow a float.
        return min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 64))

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry`, given the server's Retry-After."""
        wait = self.backoff(retry) * (1.0 - self.jitter * rng.random())
        if retry_after is not None:
            wait = max(wait, min(max(retry_after, 0.0), self.max_delay))
        return wait


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Await `call()`, retrying on `TransientModelError` as `policy` says.

    Args:
        call: a zero-argument coroutine factory; called afresh for every attempt.
        policy: the retry policy.
        rng: source of jitter; pass a seeded `random.Random` for reproducible delays.
        sleep: the coroutine used to wait (inject a fake in tests).

    Returns:
        What `call()` returned on the first successful attempt.

    Raises:
        ModelError: at once for a non-transient error (the original exception); after the
            last attempt, a plain (non-transient) `ModelError` naming the number of attempts
            and the last reason, chained to the last transient error.
    """
    retry = 0
    while True:
        try:
            return await call()
        except TransientModelError as exc:
            retry += 1
            if retry >= policy.max_attempts:
                attempts = "1 attempt" if retry == 1 else f"{retry} attempts"
                raise ModelError(f"gave up after {attempts}; last error: {exc}") from exc
            if rng is None:
                rng = random.Random()
            await sleep(policy.delay(retry, rng, exc.retry_after))
