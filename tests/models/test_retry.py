"""The retry policy: backoff growth, cap, jitter bounds, Retry-After, attempt budget."""

from __future__ import annotations

import asyncio
import random

import pytest

from medq.models.base import ModelError, TransientModelError
from medq.models.retry import RetryPolicy, with_retries


class FakeSleep:
    """Records requested delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Failing:
    """A call that raises each of `errors` in turn, then returns "ok"; counts its calls."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_success_needs_no_sleep() -> None:
    sleep = FakeSleep()
    assert await with_retries(Failing([]), RetryPolicy(), sleep=sleep) == "ok"
    assert sleep.delays == []


async def test_delays_grow_exponentially_without_jitter() -> None:
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=100, jitter=0)
    call = Failing([TransientModelError("busy") for _ in range(4)])
    assert await with_retries(call, policy, sleep=sleep) == "ok"
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0]


async def test_delays_are_capped_at_max_delay() -> None:
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=5.0, jitter=0)
    await with_retries(
        Failing([TransientModelError("busy") for _ in range(7)]), policy, sleep=sleep
    )
    assert sleep.delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]


def test_backoff_does_not_overflow() -> None:
    assert RetryPolicy(base_delay=1.0, max_delay=30.0).backoff(10_000) == 30.0


async def test_jitter_is_bounded_and_seeded() -> None:
    policy = RetryPolicy(max_attempts=7, base_delay=1.0, max_delay=8.0, jitter=0.5)
    runs = []
    for _ in range(2):
        sleep = FakeSleep()
        call = Failing([TransientModelError("busy") for _ in range(6)])
        await with_retries(call, policy, rng=random.Random(7), sleep=sleep)
        runs.append(sleep.delays)
    assert runs[0] == runs[1]  # same seed, same delays
    for retry, delay in enumerate(runs[0], start=1):
        backoff = policy.backoff(retry)
        assert backoff * 0.5 < delay <= backoff
    # Hand-computed from the first draw of Random(7): 1.0 * (1 - 0.5 * u).
    assert runs[0][0] == pytest.approx(1.0 - 0.5 * random.Random(7).random())


async def test_retry_after_is_honoured_when_longer_and_capped() -> None:
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=10.0, jitter=0)
    errors: list[Exception] = [
        TransientModelError("429", retry_after=3.0),  # longer than 0.5: wait 3
        TransientModelError("429", retry_after=0.0),  # shorter than 1.0: wait 1
        TransientModelError("429", retry_after=3600.0),  # capped at max_delay
    ]
    await with_retries(Failing(errors), policy, sleep=sleep)
    assert sleep.delays == [3.0, 1.0, 10.0]


async def test_exhausted_attempts_raise_model_error_with_count_and_reason() -> None:
    sleep = FakeSleep()
    call = Failing([TransientModelError(f"HTTP 500: boom {i}") for i in range(10)])
    with pytest.raises(
        ModelError, match=r"gave up after 3 attempts; last error: HTTP 500: boom 2"
    ) as info:
        await with_retries(call, RetryPolicy(max_attempts=3), sleep=sleep)
    assert not isinstance(info.value, TransientModelError)  # the outer layer must not retry
    assert isinstance(info.value.__cause__, TransientModelError)
    assert call.calls == 3
    assert len(sleep.delays) == 2


async def test_non_transient_error_is_raised_at_once() -> None:
    sleep = FakeSleep()
    error = ModelError("HTTP 400: bad request")
    call = Failing([error])
    with pytest.raises(ModelError) as info:
        await with_retries(call, RetryPolicy(), sleep=sleep)
    assert info.value is error
    assert call.calls == 1
    assert sleep.delays == []


async def test_other_exceptions_are_not_caught() -> None:
    async def call() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await with_retries(call, RetryPolicy(), sleep=FakeSleep())


def test_single_attempt_message() -> None:
    async def call() -> None:
        raise TransientModelError("timeout")

    with pytest.raises(ModelError, match="gave up after 1 attempt; last error: timeout"):
        asyncio.run(with_retries(call, RetryPolicy(max_attempts=1), sleep=FakeSleep()))


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"jitter": 1.5}, {"jitter": -0.1}, {"base_delay": -1}]
)
def test_invalid_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
