"""How a run is carried out, as opposed to what it measures: concurrency, patience, and
when a run counts as failed (`RunFailedError`). None of these is part of the run ID.

``concurrency`` is a number of calls in flight, or ``"auto"``: a window that adapts to the
server's rate limits between 1 and ``max_concurrency`` (`medq.concurrency`).

Every value is checked here, once, before the first call, so the CLI, run files and the
Python API refuse the same bad values with the same one-line message (the CLI names the
flag, a run file the key). Example::

    settings = RunSettings(concurrency=8, timeout=30, max_retries=2)
    settings.retry_policy().max_attempts   # 3
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medq.concurrency import AUTO, DEFAULT_MAX_CONCURRENCY
from medq.models.retry import RetryPolicy

if TYPE_CHECKING:
    from medq.concurrency import Window

DEFAULT_CONCURRENCY = 32
DEFAULT_MAX_RETRIES = 4
DEFAULT_MAX_ERROR_RATE = 0.05


class RunFailedError(RuntimeError):
    """A run that produced no (or too little) evidence: every item failed, too many did,
    or calls failed in a way retrying cannot fix. It is stored with status ``failed``;
    what it did finish is kept, and running the same spec again resumes it.

    Attributes:
        run_id: the run.
        reason: the cause in one line, with the server's own message (secrets masked).
        summary: the run's summary as stored.
    """

    def __init__(self, run_id: str, reason: str, summary: dict[str, Any]) -> None:
        super().__init__(f"run {run_id} failed: {reason}")
        self.run_id, self.reason, self.summary = run_id, reason, summary


class SettingError(ValueError):
    """A setting outside what it accepts; `setting` names it (``limit``, ``concurrency``).

    `str()` reads ``concurrency must be an integer >= 1, not 0``; `flag()` gives the same
    with the CLI flag, ``--concurrency must be ...``.
    """

    def __init__(self, setting: str, accepts: str, value: Any) -> None:
        super().__init__(f"{setting} must be {accepts}, not {value!r}")
        self.setting, self.accepts, self.value = setting, accepts, value

    def flag(self) -> str:
        """The message with the setting written as its command-line flag."""
        return f"--{self.setting.replace('_', '-')} must be {self.accepts}, not {self.value!r}"


def check_int(setting: str, value: Any, minimum: int) -> int:
    """`value` if it is an int (not a bool) >= `minimum`, else SettingError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingError(setting, f"an integer >= {minimum}", value)
    return value


def check_concurrency(value: Any, setting: str = "concurrency") -> int | str:
    """`value` if it is ``"auto"`` or an int >= 1; a string of digits (a flag's text) as
    its int; else SettingError."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingError(setting, f"an integer >= 1 or {AUTO}", value)
    return value


def check_number(setting: str, value: Any, *, low: float, high: float = math.inf,
                 low_open: bool = False) -> float:
    """`value` as a float if it is a finite number in the range, else SettingError."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        accepts = f"a number {bound}" + (f" and <= {high:g}" if high != math.inf else "")
        raise SettingError(setting, accepts, value)
    return float(value)


@dataclass(frozen=True)
class RunSettings:
    """How to run an evaluation (checked on construction).

    Attributes:
        concurrency: model calls in flight at once (>= 1), or ``"auto"``: start at 8,
            grow while responses are clean, halve on a 429 or a spent rate-limit budget.
        max_concurrency: the most calls ``auto`` may keep in flight (>= 1; default 64).
            A fixed `concurrency` is its own ceiling.
        timeout: seconds allowed for one HTTP attempt; None: the backend's default (120 s
            for ``openai/...``).
        max_retries: retries of a transient failure after the first attempt (>= 0).
        max_error_rate: the run fails, and stops sending, once more than this fraction of
            its items ended in error (0 to 1; 1 fails only a run where every item errored).
        max_response_mb: a response body larger than this many MB is an error; None: the
            backend's default (8 MB for ``openai/...``).
        n_per_request: whether the samples of one request go out as one request with
            ``n`` (`medq.coalesce`): ``auto`` (where the server serves n, detected once per
            model), ``on`` (always; a server without n is an error) or ``off``.
    """

    concurrency: int | str = DEFAULT_CONCURRENCY
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_response_mb: float | None = None
    n_per_request: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "concurrency", check_concurrency(self.concurrency))
        check_int("max_concurrency", self.max_concurrency, 1)
        check_int("max_retries", self.max_retries, 0)
        check_number("max_error_rate", self.max_error_rate, low=0.0, high=1.0)
        if self.timeout is not None:
            check_number("timeout", self.timeout, low=0.0, low_open=True)
        if self.max_response_mb is not None:
            check_number("max_response_mb", self.max_response_mb, low=0.0, low_open=True)
        if self.n_per_request not in ("auto", "on", "off"):
            raise SettingError("n_per_request", "auto, on or off", self.n_per_request)

    @property
    def ceiling(self) -> int:
        """The most calls in flight these settings ever allow."""
        return self.max_concurrency if self.concurrency == AUTO else int(self.concurrency)

    def window(self) -> Window:
        """A fresh concurrency window as these settings ask (one per model of a run)."""
        from medq.concurrency import window_for

        return window_for(self.concurrency, self.max_concurrency)

    def retry_policy(self) -> RetryPolicy:
        """The retry policy these settings ask for."""
        return RetryPolicy(max_attempts=self.max_retries + 1)

    def model_options(self) -> dict[str, Any]:
        """Backend options set here (a backend that cannot take one refuses it loudly)."""
        options: dict[str, Any] = {}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.max_response_mb is not None:
            options["max_response_bytes"] = max(1, int(self.max_response_mb * 1_000_000))
        return options

    def max_errors(self, n_items: int) -> int:
        """The most items that may end in error before the run fails."""
        return math.floor(self.max_error_rate * n_items + 1e-9)
