"""Concurrency windows (`medq.concurrency`): AIMD by hand-counted steps, fake calls only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from medq.concurrency import (
    MAX_TRAJECTORY,
    AdaptiveWindow,
    FixedWindow,
    RateLimits,
    WindowStats,
    report,
    window_for,
)
from medq.models.base import RateLimitedError, TransientModelError
from medq.models.retry import RetryPolicy, with_retries
from medq.run_settings import RunSettings, SettingError, check_concurrency


@pytest.mark.parametrize(("limits", "pressure"), [
    (RateLimits(), "clear"),
    (RateLimits(remaining_requests=50, limit_requests=100), "clear"),
    (RateLimits(remaining_requests=11, limit_requests=100), "clear"),
    (RateLimits(remaining_requests=10, limit_requests=100), "low"),     # 10% of 100
    (RateLimits(remaining_requests=2, limit_requests=100), "low"),
    (RateLimits(remaining_requests=1, limit_requests=100), "exhausted"),  # 1% of 100
    (RateLimits(remaining_requests=2, limit_requests=16), "clear"),
    (RateLimits(remaining_requests=1, limit_requests=16), "low"),       # max(1, 1.6)
    (RateLimits(remaining_requests=0, limit_requests=16), "exhausted"),
    (RateLimits(remaining_requests=2), "clear"),                         # no limit sent
    (RateLimits(remaining_requests=1), "low"),
    (RateLimits(remaining_requests=0), "exhausted"),
    # the worse of the two budgets
    (RateLimits(remaining_requests=90, limit_requests=100, remaining_tokens=9_000,
                limit_tokens=100_000), "low"),
    (RateLimits(remaining_requests=5, limit_requests=100, remaining_tokens=500,
                limit_tokens=100_000), "exhausted"),
])
def test_pressure_of_rate_limit_headers(limits: RateLimits, pressure: str) -> None:
    assert limits.pressure() == pressure


def test_concurrency_values() -> None:
    assert check_concurrency("auto") == "auto" and check_concurrency("AUTO") == "auto"
    assert check_concurrency(8) == 8 and check_concurrency("8") == 8
    for bad in (0, -1, "0", "fast", "", 2.5, True, None):
        with pytest.raises(SettingError, match=r"concurrency must be an integer >= 1 or auto"):
            check_concurrency(bad)
    with pytest.raises(SettingError, match="max_concurrency must be an integer >= 1, not 0"):
        RunSettings(concurrency="auto", max_concurrency=0)
    assert RunSettings(concurrency="auto", max_concurrency=12).ceiling == 12
    assert RunSettings(concurrency=5).ceiling == 5
    assert isinstance(window_for("auto"), AdaptiveWindow)
    assert window_for(3).ceiling == 3
    with pytest.raises(SettingError, match="start"):
        AdaptiveWindow(4, start=5)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def hold(window: Any, call: Callable[[], Awaitable[Any]]) -> Any:
    async with window.slot() as attempt:
        return await attempt(call)


async def ok() -> str:
    return "ok"


async def limited() -> str:
    raise RateLimitedError("HTTP 429", retry_after=0)


async def limited_later() -> str:
    await asyncio.sleep(0)  # every caller is granted its slot before the first refusal
    raise RateLimitedError("HTTP 429", retry_after=0)


def answering(limits: RateLimits) -> Callable[[], Awaitable[str]]:
    async def call() -> str:
        report(limits)
        return "ok"
    return call


def test_aimd_steps_by_hand() -> None:
    """Sizes after each response, with the window kept full by blocked calls."""

    async def main() -> tuple[list[int], AdaptiveWindow]:
        window = AdaptiveWindow(64, start=4)
        gate = asyncio.Event()
        sizes: list[int] = []

        async def blocked() -> str:
            await gate.wait()
            return "ok"

        async def respond(call: Callable[[], Awaitable[str]]) -> None:
            fillers = [asyncio.ensure_future(hold(window, blocked))
                       for _ in range(window.size - 1)]
            await asyncio.sleep(0)
            assert window.in_use == window.size - 1
            try:
                await hold(window, call)
            except RateLimitedError:
                pass
            sizes.append(window.size)
            gate.set()
            await asyncio.gather(*fillers)
            gate.clear()

        for call in [ok, ok, ok, limited, ok, ok, ok, ok, answering(RateLimits(1, 16))]:
            await respond(call)
        return sizes, window

    sizes, window = asyncio.run(main())
    # Slow start 4 -> 5 -> 6 -> 7 (one per clean response of a full window); the 429
    # halves 7 to 3 (the fillers sent before it say nothing about the new size); then one
    # slot after 3 clean responses in a row; a low budget holds 4.
    assert sizes == [5, 6, 7, 3, 3, 3, 4, 4, 4]
    assert (window.decreases, window.rate_limited, window.peak) == (1, 1, 7)


def test_spent_budgets_cut_by_dctcp_alpha_by_hand() -> None:
    """At its ceiling (no growth), one call at a time: a round is `size` responses."""
    spent, fine = answering(RateLimits(0, 16)), answering(RateLimits(8, 16))

    async def main() -> list[tuple[int, float]]:
        window = AdaptiveWindow(4, start=4)
        seen = []
        for call in [fine, spent, fine, fine,   # round 1: 1 of 4 marked
                     fine, fine,                # round 2 (size 2): none
                     spent, spent,              # round 3: 2 of 2
                     spent]:                    # size 1: the floor
            await hold(window, call)
            seen.append((window.size, window._alpha))
        return seen

    seen = asyncio.run(main())
    # alpha <- alpha + (fraction - alpha) / 16, from 1; a marked round: size * (1 - alpha/2)
    a1 = 1 + (0.25 - 1) / 16           # 0.953125: int(4 * 0.5234375) = 2
    a2 = a1 * 15 / 16                  # 0.8935546875: no mark, no cut
    a3 = a2 + (1 - a2) / 16            # 0.90020751953125: int(2 * 0.54989...) = 1
    assert [n for n, _ in seen] == [4, 4, 4, 2, 2, 2, 2, 1, 1]
    assert seen[3][1] == pytest.approx(a1) and seen[5][1] == pytest.approx(a2)
    assert seen[7][1] == pytest.approx(a3)


def test_a_budget_spent_on_every_response_halves_like_a_429() -> None:
    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(16, start=16)
        gate = asyncio.Event()

        async def spent() -> str:
            await gate.wait()
            report(RateLimits(remaining_requests=0))
            return "ok"

        calls = [asyncio.ensure_future(hold(window, spent)) for _ in range(16)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*calls)
        return window

    window = asyncio.run(main())
    # alpha starts at 1: a round with every response marked keeps it at 1, and halves.
    assert (window.size, window.decreases) == (8, 1)


def test_one_decrease_per_round_trip_and_the_floor() -> None:
    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(64, start=16)
        # 16 calls granted in the same epoch, all refused: one halving, not four.
        await asyncio.gather(*(hold(window, limited_later) for _ in range(16)),
                             return_exceptions=True)
        assert (window.size, window.decreases, window.rate_limited) == (8, 1, 16)
        for _ in range(10):  # each refused alone, each in a new epoch: down to the floor
            with pytest.raises(RateLimitedError):
                await hold(window, limited)
        return window

    window = asyncio.run(main())
    assert window.size == 1 and window.decreases == 4  # 16 -> 8 -> 4 -> 2 -> 1
    assert window.stats().final == 1 and window.stats().peak == 16


def test_never_more_in_flight_than_its_size_nor_its_ceiling() -> None:
    async def main() -> tuple[int, AdaptiveWindow]:
        window = AdaptiveWindow(6, start=2)
        busy = {"now": 0, "most": 0}

        async def call() -> str:
            busy["now"] += 1
            busy["most"] = max(busy["most"], busy["now"])
            assert busy["now"] <= window.size
            await asyncio.sleep(0.001)
            busy["now"] -= 1
            return "ok"

        await asyncio.gather(*(hold(window, call) for _ in range(200)))
        return busy["most"], window

    most, window = asyncio.run(main())
    assert most == 6 and window.size == 6 and window.peak == 6  # grew to the ceiling, no more
    assert window.in_use == 0


def test_a_call_waiting_to_retry_gives_its_slot_back() -> None:
    """A 429's backoff is spent without a slot, and the retry goes ahead of new calls."""

    async def main() -> list[str]:
        window = AdaptiveWindow(1, start=1)
        order: list[str] = []
        tries = {"n": 0}

        async def first() -> str:
            tries["n"] += 1
            if tries["n"] == 1:
                raise RateLimitedError("HTTP 429")
            order.append("retry")
            return "ok"

        async def second() -> str:
            order.append("other")
            return "ok"

        async def sleep(seconds: float) -> None:
            assert window.in_use == 0  # asleep: not in flight
            await asyncio.sleep(0.01)

        async def retried() -> str:
            async with window.slot() as attempt:
                return await with_retries(lambda: attempt(first), RetryPolicy(3), sleep=sleep)

        await asyncio.gather(retried(), hold(window, second))
        return order

    assert asyncio.run(main()) == ["other", "retry"]


def test_it_never_grows_past_the_servers_request_budget() -> None:
    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(64, start=2)

        async def roomy() -> str:
            await asyncio.sleep(0)
            report(RateLimits(remaining_requests=4, limit_requests=5))  # "clear", yet 5
            return "ok"

        await asyncio.gather(*(hold(window, roomy) for _ in range(100)))
        return window

    window = asyncio.run(main())
    assert (window.peak, window.size, window.stats().server_limit) == (5, 5, 5)
    assert "server limit 5" in window.stats().describe()


def test_other_transient_errors_are_no_signal() -> None:
    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(8, start=4)

        async def broken() -> str:
            raise TransientModelError("HTTP 503")

        with pytest.raises(TransientModelError):
            await hold(window, broken)
        return window

    window = asyncio.run(main())
    assert (window.size, window.decreases, window.rate_limited, window.in_use) == (4, 0, 0, 0)


def test_a_cancelled_waiter_leaks_no_slot() -> None:
    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(2, start=1)
        gate = asyncio.Event()

        async def blocked() -> str:
            await gate.wait()
            return "ok"

        first = asyncio.ensure_future(hold(window, blocked))
        waiting = asyncio.ensure_future(hold(window, ok))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        gate.set()
        await first
        assert window.in_use == 0
        assert await hold(window, ok) == "ok"
        return window

    assert asyncio.run(main()).in_use == 0


def test_fixed_window_counts_429s_and_keeps_its_size() -> None:
    async def main() -> FixedWindow:
        window = FixedWindow(3)
        for _ in range(2):
            with pytest.raises(RateLimitedError):
                await hold(window, limited)
        assert await hold(window, ok) == "ok"
        return window

    stats = asyncio.run(main()).stats()
    assert (stats.mode, stats.final, stats.peak, stats.rate_limited) == ("fixed", 3, 3, 2)
    assert stats.describe() == "fixed window 3; 2 × 429"


def test_trajectory_is_bounded_and_round_trips() -> None:
    clock = Clock()
    window = AdaptiveWindow(10_000, start=1, clock=clock)

    async def tick() -> str:
        clock.now += 0.5
        await asyncio.sleep(0)
        return "ok"

    async def main() -> None:
        # Many callers keep it full, so slow start grows it on every response.
        await asyncio.gather(*(hold(window, tick) for _ in range(4 * MAX_TRAJECTORY)))

    asyncio.run(main())
    assert window.peak > 2 * MAX_TRAJECTORY  # more changes than the trajectory keeps
    stats = window.stats()
    assert len(stats.trajectory) <= MAX_TRAJECTORY
    assert stats.trajectory[0] == (0.0, 1) and stats.trajectory[-1][1] == stats.final
    assert [n for _, n in stats.trajectory] == sorted(n for _, n in stats.trajectory)
    assert WindowStats.from_json(stats.to_json()).to_json() == stats.to_json()
    assert stats.describe().startswith(f"auto window 1 → {stats.final} (peak {stats.final}, "
                                       f"ceiling 10000); 0 × 429, 0 decreases")
