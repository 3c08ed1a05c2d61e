"""How the `medq` command line fails: one line on stderr, and a meaningful exit code.

`OneLineErrors` is the root command's class. Usage errors (a bad flag or value) are one
``error:`` line, exit 2; failures of the machine rather than the input (disk full, a
read-only or corrupt store, MEDQ_HOME a file: `medq._fserrors.StorageError`) exit 1; a
missing optional dependency exits 2 naming the extra to install. Warnings are one
``warning:`` line. Every line is escaped for the terminal (`medq._terminal`). Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from medq._terminal import printable

__all__ = ["OneLineErrors", "error_line", "explain_environment", "pause_gc", "resume_gc"]

# Whether this process is `medq` itself (its console entry point ran), not a caller of the
# app such as a test: only then does start-up pause the garbage collector.
_CONSOLE = {"medq": False}


def pause_gc(*, console: bool = False) -> None:
    """No garbage collection while a command starts, in a `medq` process (`console`: the
    entry point says it is one). Start-up (imports, the command's parameters, a loaded
    task, a plan) makes long-lived objects and next to no cyclic garbage, yet CPython's
    collector scans them again and again: ~50 ms of `medq eval`'s CPU (issue 19).
    `resume_gc` ends the pause."""
    if console:
        _CONSOLE["medq"] = True
    if _CONSOLE["medq"]:
        gc.disable()


def resume_gc() -> None:
    """End `pause_gc`'s pause: what start-up built is frozen (never scanned again, never
    collected: it lives until exit anyway) and the collector runs as usual on the rest."""
    if _CONSOLE["medq"] and not gc.isenabled():
        gc.freeze()
        gc.enable()


def _click_class(name: str) -> type[BaseException]:
    # typer may vendor its own click; its public BadParameter leads to the classes in use.
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


class OneLineErrors(TyperGroup):
    """The root command: every error a user can cause or meet is one line on stderr.

    Usage errors (a bad flag or value) exit 2. Failures of the machine, not of the input
    (disk full, a read-only or corrupt store, MEDQ_HOME a file) exit 1; a missing optional
    dependency exits 2 naming the extra to install. Anything else is a bug and keeps its
    traceback.
    """

    def invoke(self, ctx: Any) -> Any:
        resume_gc()  # a command that starts with more work pauses it again (`medq eval`)
        return super().invoke(ctx)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from medq._cli_params import light_coercion

        light_coercion(self)  # no pydantic for plain values (issue 19)
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        import warnings

        shown = warnings.showwarning
        warnings.showwarning = show_warning
        try:
            code = super().main(*args, **kwargs)
        except _click_class("ClickException") as exc:
            message = exc.format_message()  # type: ignore[attr-defined]
            if message.strip():  # empty: the help was shown (no arguments)
                context = getattr(exc, "ctx", None)
                see = f" (see `{context.command_path} --help`)" if context is not None else ""
                error_line(f"{message}{see}")
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            error_line("aborted")
            sys.exit(130)
        except Exception as exc:
            explained = explain_environment(exc)
            if explained is None:
                raise
            message, code = explained
            error_line(message)
            sys.exit(code)
        finally:
            warnings.showwarning = shown
        sys.exit(code if isinstance(code, int) else 0)


def explain_environment(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit code) for an error of the machine or the installation, else None."""
    import sqlite3

    from medq._extras import missing_extra
    from medq._fserrors import StorageError, describe_os_error
    from medq.store import medq_home, store_error

    if isinstance(exc, StorageError):
        return str(exc), 1
    if isinstance(exc, sqlite3.Error):
        error = store_error(exc, medq_home() / "medq.sqlite")
        return None if error is None else (str(error), 1)
    if isinstance(exc, OSError):
        described = describe_os_error(exc)
        return None if described is None else (str(described), 1)
    if isinstance(exc, ImportError):
        missing = missing_extra(exc)
        return None if missing is None else (str(missing), 2)
    return None


def error_line(message: str) -> None:
    typer.echo(f"error: {printable(message, one_line=True)}", err=True)


def show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    typer.echo(f"warning: {printable(message, one_line=True)}", err=True)
