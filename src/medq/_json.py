"""JSON parsing that refuses duplicate keys.

Python's ``json`` keeps the last of two equal keys without a word, so a benchmark item
written ``{"answer": "A", ..., "answer": "C"}`` would be scored against whichever came
last. `loads` raises `DuplicateKeyError` instead, naming the key and the path to the
object that holds it (``medqa/0001/answer``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DuplicateKeyError", "loads"]


class DuplicateKeyError(ValueError):
    """A JSON object has the same key twice; `path` leads from the document's root to it."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        key, parent = path[-1], "/".join(path[:-1])
        where = f" in object {parent!r}" if parent else " at the top level"
        super().__init__(f"key {key!r} appears twice{where}")


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object holding a duplicate somewhere inside it; `path` leads to the key."""

    path: tuple[str, ...] = ()


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises `DuplicateKeyError` on a key repeated in one object.

    Objects are built bottom-up, so an object holding a duplicate is marked and every
    enclosing object prefixes its own key, giving the full path at the root.
    """
    found = False

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    marked = _Duplicated(obj)
                    marked.path = (key,)
                    found = True
                    return marked
                seen.add(key)
        if found:
            for key, value in obj.items():
                inner = _marked(value)
                if inner is not None:
                    marked = _Duplicated(obj)
                    marked.path = (key, *inner)
                    return marked
        return obj

    document = json.loads(text, object_pairs_hook=build)
    if found:
        path = _marked(document)
        if path is not None:
            raise DuplicateKeyError(path)
    return document


def _marked(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, _Duplicated):
        return value.path
    if isinstance(value, list):
        for i, item in enumerate(value):
            inner = _marked(item)
            if inner is not None:
                return (str(i), *inner)
    return None
