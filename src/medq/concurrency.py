"""How many model calls a run keeps in flight: a fixed window, or one that adapts to the
server's rate limits (``--concurrency auto``).

The adaptive window is TCP's congestion control applied to API calls: additive increase,
multiplicative decrease (AIMD) with a slow start. Chiu and Jain, "Analysis of the Increase
and Decrease Algorithms for Congestion Avoidance in Computer Networks", Computer Networks
and ISDN Systems 17(1), 1989 (AIMD converges to a fair, efficient share); Jacobson,
"Congestion Avoidance and Control", SIGCOMM 1988 (slow start, one decrease per round trip);
Alizadeh et al., "Data Center TCP (DCTCP)", SIGCOMM 2010 (an early warning cuts the window
in proportion to how often it is heard).

- It starts at `DEFAULT_START` (8) calls in flight and, until the first sign of pressure,
  adds one slot per clean response (slow start: the window doubles every round trip).
- After that it adds one slot per window's worth of clean responses in a row (about one
  per round trip), and never above its ceiling (``--max-concurrency``).
- A 429 (`medq.models.base.RateLimitedError`) halves it (floor 1), once per round trip:
  responses to calls sent before the last decrease were sent at the old size and cannot
  ask for another.
- A response whose ``x-ratelimit-remaining-*`` header says the budget is spent (remaining
  near zero, `EXHAUSTED_FRACTION`) is DCTCP's mark: at the end of each round (a window's
  worth of responses) a round with marks multiplies the size by ``1 - alpha / 2``, where
  alpha is the running fraction of marked responses (gain `GAIN`, starting at 1). A budget
  spent on every response halves it, as a 429 does; a window that only just touches the
  limit loses a slot, instead of being halved each time it reaches it (a sawtooth between
  half the limit and the limit: see BENCHMARKS.md).
- A response that says the budget is nearly spent (`LOW_FRACTION`) holds it where it is.
- It never grows past the server's whole request budget (``x-ratelimit-limit-requests``,
  when sent): more calls in flight than the server allows per minute (or at once) can
  only draw 429s, and a client too busy to keep its window full would otherwise see room
  that is not there.

A 429 is a signal to the window, not an error: the one retry policy (`medq.models.retry`)
retries it after the server's Retry-After, and only a call that exhausts its retries is an
item in error. Backends report each response's rate-limit headers with `report`; the
window listening for that attempt reads them (a context variable, because the stored
`Completion` is the call's record and headers are not part of it).

Example::

    window = window_for("auto", max_concurrency=64)
    async with window.slot() as attempt:
        completion = await with_retries(lambda: attempt(call), policy)
    window.stats().describe()   # "auto window 8 → 15 (peak 17, ceiling 64); 3 × 429, ..."
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar

from medq.models.base import RateLimitedError, TransientModelError

__all__ = [
    "AUTO",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_START",
    "AdaptiveWindow",
    "Attempt",
    "FixedWindow",
    "RateLimits",
    "Window",
    "WindowStats",
    "report",
    "window_for",
]

T = TypeVar("T")

AUTO = "auto"
#: Where an adaptive window starts: a quarter of the fixed default (32), so a tight tier's
#: first burst is mostly accepted; slow start doubles it every round trip from there.
DEFAULT_START = 8
#: The ceiling of an adaptive window unless ``--max-concurrency`` says otherwise. Servers
#: that send neither 429s nor rate-limit headers (vLLM, SGLang, llama.cpp) give it no reason
#: to stop, so it climbs to the ceiling there: twice the fixed default of 32, enough to keep
#: a hosted API's round trips overlapped, small enough that a server that never pushes back
#: is not flooded by a default.
DEFAULT_MAX_CONCURRENCY = 64
#: A remaining budget at or below this fraction of its limit (or 1 request) holds the window.
LOW_FRACTION = 0.10
#: A remaining budget at or below this fraction of its limit (0 when no limit is sent) is
#: spent: the next calls would be refused (a DCTCP mark, see the module docstring).
EXHAUSTED_FRACTION = 0.01
#: DCTCP's gain g: the weight of the newest round in alpha, the running fraction of marked
#: responses (the paper's value, 1/16: alpha follows a change within a few dozen rounds).
GAIN = 1 / 16
#: Changes of the window kept for `WindowStats.trajectory`; past it every other one is
#: dropped, so a long run keeps its shape in bounded space.
MAX_TRAJECTORY = 256

Pressure = Literal["clear", "low", "exhausted"]
_ORDER = {"clear": 0, "low": 1, "exhausted": 2}


@dataclass(frozen=True)
class RateLimits:
    """What one response's ``x-ratelimit-*`` headers said (None where one was absent).

    Attributes:
        remaining_requests, limit_requests: ``x-ratelimit-remaining-requests`` and
            ``x-ratelimit-limit-requests``.
        remaining_tokens, limit_tokens: the same for tokens.
    """

    remaining_requests: int | None = None
    limit_requests: int | None = None
    remaining_tokens: int | None = None
    limit_tokens: int | None = None

    def pressure(self) -> Pressure:
        """The worse of the request and the token budget: ``exhausted`` (at or below
        `EXHAUSTED_FRACTION` of the limit, or 0 without one), ``low`` (at or below
        `LOW_FRACTION` of it, or 1 without one) or ``clear``."""
        worst: Pressure = "clear"
        for remaining, limit in ((self.remaining_requests, self.limit_requests),
                                 (self.remaining_tokens, self.limit_tokens)):
            level = _level(remaining, limit)
            if _ORDER[level] > _ORDER[worst]:
                worst = level
        return worst


def _level(remaining: int | None, limit: int | None) -> Pressure:
    if remaining is None:
        return "clear"
    exhausted = EXHAUSTED_FRACTION * limit if limit else 0
    low = max(1.0, LOW_FRACTION * limit) if limit else 1
    if remaining <= exhausted:
        return "exhausted"
    return "low" if remaining <= low else "clear"


_heard: contextvars.ContextVar[list[RateLimits] | None] = contextvars.ContextVar(
    "medq_rate_limits", default=None)


def report(limits: RateLimits) -> None:
    """Tell the window of the current call attempt what the server's rate-limit headers
    said (backends call this for every response that carries them; a no-op elsewhere)."""
    heard = _heard.get()
    if heard is not None:
        heard.append(limits)


@dataclass(frozen=True)
class WindowStats:
    """What a window did over a run (stored in the run's info as ``window``).

    Attributes:
        mode: ``fixed`` or ``auto``.
        start, ceiling: its first size and the most it may reach.
        final, peak: its size at the end and the largest it reached.
        rate_limited: 429 responses seen (each retried, not an error unless retries ran out).
        decreases: times it shrank (a 429 halves it; rounds with spent budgets cut it by
            DCTCP's alpha / 2), at most once per round trip.
        trajectory: (seconds since the first call, size) at each change, oldest first.
        server_limit: the last ``x-ratelimit-limit-requests`` heard (its growth stops there).
    """

    mode: str
    start: int
    ceiling: int
    final: int
    peak: int
    rate_limited: int = 0
    decreases: int = 0
    trajectory: tuple[tuple[float, int], ...] = ()
    server_limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "start": self.start, "ceiling": self.ceiling,
                "final": self.final, "peak": self.peak, "rate_limited": self.rate_limited,
                "decreases": self.decreases, "server_limit": self.server_limit,
                "trajectory": [[round(t, 3), n] for t, n in self.trajectory]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WindowStats:
        """Inverse of `to_json` (a run's stored ``window``)."""
        return cls(str(data["mode"]), int(data["start"]), int(data["ceiling"]),
                   int(data["final"]), int(data["peak"]), int(data.get("rate_limited", 0)),
                   int(data.get("decreases", 0)),
                   tuple((float(t), int(n)) for t, n in data.get("trajectory", ())),
                   data.get("server_limit"))

    def describe(self) -> str:
        """One line, e.g. ``auto window 8 → 15 (peak 17, ceiling 64); 3 × 429, 1 decrease``."""
        limited = f"{self.rate_limited} × 429"
        if self.mode == "fixed":
            return f"fixed window {self.final}; {limited}"
        cuts = f"{self.decreases} decrease" + ("" if self.decreases == 1 else "s")
        server = "" if self.server_limit is None else f", server limit {self.server_limit}"
        return (f"auto window {self.start} → {self.final} (peak {self.peak}, ceiling "
                f"{self.ceiling}{server}); {limited}, {cuts}")


Attempt = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Runs one attempt of a call, ``await attempt(call)``, and lets the window see its outcome."""


class Window(Protocol):
    """A run's concurrency window. ``async with window.slot() as attempt`` is held around
    each live call, its retries included, and ``await attempt(call)`` makes each attempt,
    so the window sees every outcome (`medq.calls.CallLog` does both)."""

    @property
    def ceiling(self) -> int:
        """The most calls it ever lets through at once."""
        ...

    def slot(self) -> AbstractAsyncContextManager[Attempt]: ...

    def stats(self) -> WindowStats: ...


class FixedWindow:
    """At most `size` calls in flight, always (``--concurrency N``); counts the 429s.

    A call keeps its slot while it waits to retry, as medq always did: a fixed window
    is the most calls the run has under way, asleep or not.
    """

    def __init__(self, size: int) -> None:
        from medq.run_settings import check_int

        self.size = check_int("concurrency", size, 1)
        self._semaphore = asyncio.Semaphore(size)
        self.rate_limited = 0

    @property
    def ceiling(self) -> int:
        return self.size

    def slot(self) -> FixedWindow:
        return self

    async def __aenter__(self) -> Attempt:
        await self._semaphore.acquire()
        return self._attempt

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self._semaphore.release()

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RateLimitedError:
            self.rate_limited += 1
            raise

    def stats(self) -> WindowStats:
        return WindowStats("fixed", self.size, self.size, self.size, self.size,
                           self.rate_limited)


class AdaptiveWindow:
    """An AIMD window between 1 and `ceiling` (``--concurrency auto``); see the module.

    Its size bounds the calls on the wire: a call waiting out a retry's backoff gives its
    slot back and takes one again, ahead of new calls, before it retries (else the calls
    a 429 sent to sleep would fill the window they just halved).

    Args:
        ceiling: the most calls in flight it may ever allow (``--max-concurrency``).
        start: its first size (default `DEFAULT_START`, or `ceiling` when smaller).
        clock: seconds, for the trajectory (inject a fake in tests).
    """

    def __init__(self, ceiling: int = DEFAULT_MAX_CONCURRENCY, start: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from medq.run_settings import SettingError, check_int

        self._ceiling = check_int("max_concurrency", ceiling, 1)
        start = min(DEFAULT_START, ceiling) if start is None else start
        if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= ceiling:
            raise SettingError("start", f"an integer from 1 to the ceiling {ceiling}", start)
        self.start = self.size = self.peak = start
        self.rate_limited = self.decreases = 0
        self._in_use = 0
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._slow_start = True
        self._clean = 0  # clean responses in a row since the last change
        self._epoch = 0  # bumped by each decrease
        self._alpha = 1.0  # running fraction of marked (budget spent) responses
        self._seen = self._marked = 0  # responses, and marked ones, in this round
        self._server_limit: int | None = None  # x-ratelimit-limit-requests, last heard
        self._clock = clock
        self._t0: float | None = None
        self._trajectory: list[tuple[float, int]] = [(0.0, start)]

    @property
    def ceiling(self) -> int:
        return self._ceiling

    @property
    def in_use(self) -> int:
        """Calls on the wire now (holding a slot)."""
        return self._in_use

    def slot(self) -> _AdaptiveSlot:
        return _AdaptiveSlot(self)

    async def _acquire(self, first: bool = False) -> int:
        """Take a slot (`first`: ahead of every waiter); the epoch it was granted in."""
        if self._t0 is None:
            self._t0 = self._clock()
        if self._in_use < self.size and not self._waiters:
            self._in_use += 1
            return self._epoch
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted just as it was cancelled: pass the slot on
            else:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        self._in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_use < self.size:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_use += 1
                waiter.set_result(self._epoch)

    def _hear(self, limits: RateLimits) -> None:
        if limits.limit_requests:
            self._server_limit = limits.limit_requests

    def _settle(self, limits: RateLimits | None, epoch: int) -> None:
        if limits is not None:
            self._hear(limits)
        if epoch != self._epoch:
            return  # sent before the last decrease: it says nothing about the new size
        pressure: Pressure = "clear" if limits is None else limits.pressure()
        room = self._ceiling if self._server_limit is None else min(self._ceiling,
                                                                    self._server_limit)
        self._seen += 1
        if pressure != "clear":
            self._slow_start = False
            self._clean = 0
            self._marked += pressure == "exhausted"
        # Grow only a window in use: one the run never fills says nothing about the server.
        elif self.size < room and self._in_use >= self.size:
            self._clean += 1
            if self._slow_start or self._clean >= self.size:
                self._resize(self.size + 1)
        if self._seen >= self.size:
            self._end_round()

    def _end_round(self) -> None:
        fraction = self._marked / self._seen
        self._alpha += GAIN * (fraction - self._alpha)
        marked, self._seen, self._marked = self._marked, 0, 0
        if marked:
            self._cut(min(self.size - 1, int(self.size * (1 - self._alpha / 2))))

    def _decrease(self, epoch: int) -> None:
        # A call granted its slot before the last decrease went out at the old size: its
        # 429 is that round trip's, already answered (TCP's one decrease per window).
        if epoch == self._epoch:
            self._cut(self.size // 2)

    def _cut(self, size: int) -> None:
        self._slow_start = False
        self._seen = self._marked = 0
        if self.size == 1:
            return  # the floor: one call at a time, retried after the server's Retry-After
        self._epoch += 1
        self.decreases += 1
        self._resize(max(1, size))

    def _resize(self, size: int) -> None:
        self._clean = 0
        self.size = size
        self.peak = max(self.peak, size)
        elapsed = self._clock() - self._t0 if self._t0 is not None else 0.0
        self._trajectory.append((elapsed, size))
        if len(self._trajectory) > MAX_TRAJECTORY:
            self._trajectory = [*self._trajectory[:-1:2], self._trajectory[-1]]
        self._wake()

    def stats(self) -> WindowStats:
        return WindowStats("auto", self.start, self._ceiling, self.size, self.peak,
                           self.rate_limited, self.decreases, tuple(self._trajectory),
                           self._server_limit)


class _AdaptiveSlot:
    """One call's hold on an `AdaptiveWindow`, given back during each retry's backoff."""

    __slots__ = ("_epoch", "_held", "_window")

    def __init__(self, window: AdaptiveWindow) -> None:
        self._window = window
        self._held = False
        self._epoch = 0

    async def __aenter__(self) -> Attempt:
        self._epoch = await self._window._acquire()
        self._held = True
        return self._attempt

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._held:
            self._held = False
            self._window._release()

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T:
        window = self._window
        if not self._held:
            self._epoch = await window._acquire(first=True)
            self._held = True
        heard: list[RateLimits] = []
        token = _heard.set(heard)
        try:
            result = await call()
        except TransientModelError as exc:
            if heard:
                window._hear(heard[-1])
            if isinstance(exc, RateLimitedError):
                window.rate_limited += 1
                window._decrease(self._epoch)
            self._held = False  # asleep until the retry: not on the wire
            window._release()
            raise
        finally:
            _heard.reset(token)
        window._settle(heard[-1] if heard else None, self._epoch)
        return result


def window_for(concurrency: int | str, max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> Window:
    """The window ``--concurrency`` asks for: `AdaptiveWindow` for ``auto`` (ceiling
    `max_concurrency`), else a `FixedWindow` of that size.

    Raises:
        SettingError: `concurrency` neither ``auto`` nor an integer >= 1, or
            `max_concurrency` below 1.
    """
    from medq.run_settings import check_concurrency

    size = check_concurrency(concurrency)
    return AdaptiveWindow(max_concurrency) if size == AUTO else FixedWindow(int(size))
