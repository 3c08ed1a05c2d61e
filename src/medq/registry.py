"""Name -> factory registries for tasks, strategies and model backends.

Built-ins (every public module of ``medq.tasks``, ``medq.strategies`` and ``medq.models``)
register through the same decorators third parties use; plugins add more through
the ``medq.tasks`` / ``medq.strategies`` / ``medq.models`` entry-point groups.

Looking a name up imports only the module that defines it: the module of that name (or
of a ``_``-separated prefix of it, for families), or the one the package's ``MODULES``
table names for the few names that differ from their module's (``openai`` lives in
``openai_compat``). Only an unknown name, or a listing, imports every module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
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
            if key not in self._items and not self._loaded:
                self._load_one(key)  # a built-in of that name, not imported yet, holds it
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
        for module in _module_names(package):
            importlib.import_module(f"{self._builtin_package}.{module}")
        for ep in _entry_points(self._group):
            ep.load()

    def _load_one(self, name: str) -> None:
        """Import just the module that should define `name` (see `module_of`), so a run
        of one strategy never imports every other one (and their numpy, retrieval or
        pydantic)."""
        module = self.module_of(name)
        if module is not None:
            importlib.import_module(module)

    def module_of(self, name: str) -> str | None:
        """The built-in module that defines `name`, found without importing any: the
        package's ``MODULES`` entry, else the module named `name` or (for families such
        as ``medagentsbench_medqa``) the longest ``_``-separated prefix of it that is a
        module; None when no module fits."""
        package = importlib.import_module(self._builtin_package)
        table: dict[str, str] = getattr(package, "MODULES", {})
        if name in table:
            return f"{self._builtin_package}.{table[name]}"
        modules = set(_module_names(package))
        parts = name.split("_")
        for end in range(len(parts), 0, -1):
            candidate = "_".join(parts[:end])
            if candidate in modules:
                return f"{self._builtin_package}.{candidate}"
        return None

    def get(self, name: str) -> F:
        """The factory registered as `name`; UnknownNameError lists the known names."""
        if name not in self._items and not self._loaded:
            self._load_one(name)
        if name not in self._items:
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


def _module_names(package: Any) -> list[str]:
    """The public modules of a package (the ones that register built-ins)."""
    return [m.name for m in pkgutil.iter_modules(package.__path__)
            if not m.name.startswith("_") and m.name != "base"]


_ENTRY_POINTS: dict[str, Any] = {}


def _entry_points(group: str) -> Any:
    """Entry points of `group`; the installed distributions are scanned once per process."""
    if "all" not in _ENTRY_POINTS:
        from importlib.metadata import entry_points  # ~13 ms: only for a listing

        _ENTRY_POINTS["all"] = entry_points()
    return _ENTRY_POINTS["all"].select(group=group)


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
