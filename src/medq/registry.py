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


class DuplicateNameError(ValueError):
    """Two different factories registered under one name (a plugin must not silently
    replace a built-in, nor two plugins each other)."""


class Registry(Generic[F]):
    """A name -> factory map filled by decorators, built-in modules and entry points.

    Each name may carry metadata given at registration (a strategy's prompts, calls per
    item and accepted answer kinds), so nothing has to be found by guessing module names.
    """

    def __init__(self, kind: str, builtin_package: str, entry_point_group: str) -> None:
        self.kind = kind
        self._builtin_package = builtin_package
        self._group = entry_point_group
        self._items: dict[str, F] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._loaded = False

    def register(self, name: str | None = None, **meta: Any) -> Callable[[F], F]:
        """Decorator: register a factory under `name` (default: the function's name).

        Raises:
            DuplicateNameError: another factory already holds the name.
        """

        def decorate(factory: F) -> F:
            key = name or factory.__name__
            held = self._items.get(key)
            if held is not None and not _same_factory(held, factory):
                raise DuplicateNameError(
                    f"{self.kind} {key!r} is already registered by "
                    f"{getattr(held, '__module__', '?')}; register the new one under "
                    f"another name (plugins: '<package>.{key}')"
                )
            self._items[key] = factory
            self._meta[key] = dict(meta)
            return factory

        return decorate

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata given when `name` was registered (a copy; empty when none)."""
        self.get(name)
        return dict(self._meta.get(name, {}))

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


def _same_factory(a: Any, b: Any) -> bool:
    """The same definition seen twice (a module imported under two names, a reload)."""
    if a is b:
        return True
    try:
        if a == b:
            return True
    except Exception:  # noqa: BLE001 - an odd __eq__ just means "not the same"
        return False
    qualname = getattr(a, "__qualname__", None)
    return (
        qualname is not None
        and qualname == getattr(b, "__qualname__", None)
        and getattr(a, "__module__", None) == getattr(b, "__module__", None)
    )


tasks: Registry[Callable[..., Any]] = Registry("task", "medq.tasks", "medq.tasks")
strategies: Registry[Callable[..., Any]] = Registry(
    "strategy", "medq.strategies", "medq.strategies"
)
models: Registry[Callable[..., Any]] = Registry("model backend", "medq.models", "medq.models")
