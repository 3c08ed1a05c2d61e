"""One progress bar for every long command: rich on a terminal, silent everywhere else.

The bar draws on stderr only when stderr is a terminal, so pipes, CI logs and captured
test output stay clean, and it disappears when done (the command prints its own result).

Example:
    >>> with Progress(len(files), "corpus add · textbooks", unit="files") as bar:
    ...     for file in files:
    ...         read(file)
    ...         bar.advance()
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from medq._terminal import cell

_T = TypeVar("_T")


class Progress:
    """A rich progress bar (description, bar, done/total, rate, time left) on a terminal.

    Args:
        total: how many units the work has (None: unknown, the bar pulses).
        description: what is being done, shown left of the bar.
        enabled: False keeps it silent even on a terminal (a caller's ``progress=False``).
        unit: what a unit is, for the rate column ("items/s", "files/s").
    """

    def __init__(self, total: int | None, description: str, enabled: bool = True,
                 unit: str = "items") -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled or total == 0 or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(f"{task.speed:.1f} {unit}/s" if task.speed else "")

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            Rate(),
            TimeRemainingColumn(),
            transient=True,
            console=Console(stderr=True),
        )
        self._bar.start()
        # The description may name a corpus, a file or a model: text, never markup.
        self._task = self._bar.add_task(cell(description).markup, total=total)

    @property
    def shown(self) -> bool:
        """Whether a bar is being drawn."""
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        """Mark `n` more units done."""
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def describe(self, description: str) -> None:
        """Replace the description (shown as text, never markup)."""
        if self._bar is not None:
            self._bar.update(self._task, description=cell(description).markup)

    def update(self, completed: int, total: int | None = None) -> None:
        """Set the units done (and the total, when it becomes known)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=completed,
                             **({"total": total} if total is not None else {}))

    def track(self, units: Iterable[_T]) -> Iterator[_T]:
        """Yield each unit, advancing after it; the bar closes when the loop ends."""
        try:
            for unit in units:
                yield unit
                self.advance()
        finally:
            self.close()

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
