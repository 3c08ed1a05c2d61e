"""Optional dependencies: import one, or say in one line which extra installs it.

medq's core needs no torch, faiss or pyarrow; the commands that do import them through
`require_extra`, which raises `MissingExtraError` ("... needs sentence-transformers:
pip install 'medq[hf]'") instead of a ModuleNotFoundError traceback. `missing_extra`
maps a ModuleNotFoundError raised anywhere else to the same message, from the same table.

Example:
    >>> faiss = require_extra("faiss", "dense retrieval")
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "missing_extra", "require_extra"]

EXTRAS: dict[str, tuple[str, str, str]] = {
    # top-level module: (the extra that installs it, the package, what needs it)
    "torch": ("hf", "torch", "local models (hf/...)"),
    "transformers": ("hf", "transformers", "local models (hf/...)"),
    "sentence_transformers": ("hf", "sentence-transformers",
                              "kNN exemplars (medprompt, selection=knn) and dense retrieval"),
    "faiss": ("rag", "faiss-cpu", "dense retrieval (--retriever dense:...)"),
    "pyarrow": ("parquet", "pyarrow", "parquet files"),
    "ray": ("ray", "ray", "the ray executor (medq sweep run --executor ray)"),
    "pandas": ("ray", "pandas", "Ray Data (medq index embed --executor ray)"),
    "fastapi": ("serve", "fastapi", "medq serve"),
    "uvicorn": ("serve", "uvicorn", "medq serve"),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def _message(module: str, purpose: str | None) -> str:
    extra, package, needed_by = EXTRAS[module.split(".")[0]]
    return (f"{purpose or needed_by} needs {package}, which is not installed: "
            f"pip install 'medq[{extra}]'")


def require_extra(module: str, purpose: str) -> ModuleType:
    """Import `module` (a key of `EXTRAS`, or a submodule of one) for `purpose`.

    Raises:
        MissingExtraError: the module's package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not _is_missing(exc, module):
            raise  # the package is there but one of *its* imports failed: a real bug
        raise MissingExtraError(_message(module, purpose)) from None


def missing_extra(exc: BaseException, purpose: str | None = None) -> MissingExtraError | None:
    """The `MissingExtraError` for a ModuleNotFoundError of an optional dependency, else
    None (any other error, or a module that no extra provides)."""
    if isinstance(exc, MissingExtraError):
        return exc
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top not in EXTRAS:
        return None
    return MissingExtraError(_message(top, purpose))


def _is_missing(exc: ModuleNotFoundError, module: str) -> bool:
    name = exc.name or ""
    return module == name or module.startswith(name + ".") or name.split(".")[0] in EXTRAS
