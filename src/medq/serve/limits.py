"""Per-key request and token rate limits and a concurrency cap, checked before any
upstream call.

Windows slide: a key may make `requests_per_minute` requests in any 60 seconds, and is
admitted while the tokens its answers used in the last 60 seconds (their `usage`, cached
calls included) are under `tokens_per_minute` (a request's tokens are only known once it
is answered, so the one that crosses the line is finished, and the next waits). A refusal
says how many seconds to wait (`Retry-After`): until the oldest request or enough tokens
leave the window, or 1 second for the concurrency cap.

State lives in the server process (one process serves; see the README's Serving section).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from medq.serve.config import KeyLimits

__all__ = ["Lease", "Limiter", "RateLimited"]

WINDOW_S = 60.0


class RateLimited(Exception):
    """A request refused by a limit; `retry_after` is in whole seconds (at least 1)."""

    def __init__(self, message: str, retry_after: float, code: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))
        self.code = code


@dataclass
class _KeyState:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    in_flight: int = 0


@dataclass
class Lease:
    """An admitted request; `release(tokens)` when it is finished, whatever the outcome."""

    _limiter: Limiter
    _key: str
    _released: bool = False

    def release(self, tokens: int = 0) -> None:
        if not self._released:
            self._released = True
            self._limiter._release(self._key, tokens)


class Limiter:
    """The limits of every key, in memory; see the module docstring.

    Example:
        >>> limiter = Limiter()
        >>> lease = limiter.admit("mq-abc", KeyLimits(requests_per_minute=2))
        >>> lease.release(tokens=120)
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, _KeyState] = {}

    def _state(self, key: str, now: float) -> _KeyState:
        state = self._keys.setdefault(key, _KeyState())
        while state.requests and state.requests[0] <= now - WINDOW_S:
            state.requests.popleft()
        while state.tokens and state.tokens[0][0] <= now - WINDOW_S:
            state.token_sum -= state.tokens.popleft()[1]
        return state

    def admit(self, key: str, limits: KeyLimits) -> Lease:
        """Admit one request of `key` or raise `RateLimited`; nothing is counted on refusal."""
        now = self._clock()
        state = self._state(key, now)
        rpm, tpm, cap = limits.requests_per_minute, limits.tokens_per_minute, limits.concurrent
        if cap is not None and state.in_flight >= cap:
            raise RateLimited(f"this key already has {state.in_flight} request(s) in flight "
                              f"(its limit is {cap})", 1.0, "concurrency_limit_exceeded")
        if rpm is not None and len(state.requests) >= rpm:
            wait = state.requests[len(state.requests) - rpm] + WINDOW_S - now
            raise RateLimited(f"this key's limit of {rpm} requests per minute is reached",
                              wait, "requests_per_minute_exceeded")
        if tpm is not None and state.token_sum >= tpm:
            over, wait = state.token_sum - tpm, 0.0
            for at, tokens in state.tokens:  # until enough tokens have left the window
                over -= tokens
                wait = at + WINDOW_S - now
                if over < 0:
                    break
            raise RateLimited(f"this key used {state.token_sum} tokens in the last minute "
                              f"(its limit is {tpm})", wait, "tokens_per_minute_exceeded")
        state.requests.append(now)
        state.in_flight += 1
        return Lease(self, key)

    def _release(self, key: str, tokens: int) -> None:
        state = self._keys[key]
        state.in_flight -= 1
        if tokens:
            state.tokens.append((self._clock(), tokens))
            state.token_sum += tokens
