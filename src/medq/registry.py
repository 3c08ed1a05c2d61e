"""Name -> factory registries for tasks, strategies and model backends.

Built-ins (every public module of ``medq.tasks``, ``medq.strategies`` and ``medq.models``)
register through the same decorators third parties use; plugins add more through
the ``medq.tasks`` / ``medq.strategies`` / ``medq.models`` entry-point groups.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class UnknownNameError(KeyError):
    """A task, strategy or model backend name that nothing registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[F]):
    """A name -> factory map filled by decorators, built-in modules and entry points."""

    def __init__(self, kind: str, builtin_package: str, entry_point_group: str) -> None:
        self.kind = kind
        self._builtin_package = builtin_package
        self._group = entry_point_group
        self._items: dict[str, F] = {}
        self._loaded = False

    def register(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: register a factory under `name` (default: the function's name)."""

        def decorate(factory: F) -> F:
            self._items[name or factory.__name__] = factory
            return factory

        return decorate

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self._builtin_package)
        # Every public module of the package registers itself on import, so adding a
        # benchmark, strategy or backend never edits a central list.
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_") and module.name != "base":
                importlib.import_module(f"{self._builtin_package}.{module.name}")
        for ep in entry_points(group=self._group):
            ep.load()

    def get(self, name: str) -> F:
        """The factory registered as `name`; UnknownNameError lists the known names."""
        self._load()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load()
        return sorted(self._items)


tasks: Registry[Callable[..., Any]] = Registry("task", "medq.tasks", "medq.tasks")
strategies: Registry[Callable[..., Any]] = Registry(
    "strategy", "medq.strategies", "medq.strategies"
)
models: Registry[Callable[..., Any]] = Registry("model backend", "medq.models", "medq.models")
