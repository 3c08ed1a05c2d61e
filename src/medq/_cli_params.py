"""Command-line values converted without pydantic where the answer is certain.

typer (0.19 and later) converts every parameter's value through a pydantic ``TypeAdapter``
built on first use: importing pydantic and building ~35 adapters costs `medq eval` about
0.1 CPU-s before it does any work (issue 19). `light_coercion` gives each parameter of a
built command a converter that handles the values a command line and the defaults give
(``str``, ``int``, ``float``, ``Path``, ``list[str]``) exactly as typer's adapters would,
and hands every other value, every bad value (so the error message is typer's own) and
every other type to typer's own converter, built then. With a typer that has no such
converters (before 0.19) it changes nothing.

``tests/test_cli_params.py`` checks the two converters agree on every parameter of every
command, for good values and bad.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

__all__ = ["light_coercion"]

try:  # typer >= 0.19: runtime coercion through pydantic adapters
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - an older typer converts through click's types
    RuntimeParam = None  # type: ignore[assignment,misc]

_UNSURE = object()
# Only the plain spellings, whose value pydantic and Python agree on; anything else
# ("007", " 1", "1e3", "1_000", "inf") goes to typer's own converter.
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?")


def light_coercion(command: Any) -> None:
    """Give every typer parameter of `command` and its subcommands the light converter
    (parameters that already converted a value keep theirs)."""
    if RuntimeParam is None:  # pragma: no cover
        return
    stack = [command]
    while stack:
        cmd = stack.pop()
        stack.extend(getattr(cmd, "commands", {}).values())
        for param in cmd.params:
            _lighten(param)
        if "get_help_option" not in vars(cmd):  # --help is built per context, later
            cmd.get_help_option = _lightened_help(cmd.get_help_option)


def _lighten(param: Any) -> None:
    if isinstance(param, _TyperParameter) and param._runtime_param is None:
        light = _light_param(param)
        if light is not None:
            param._runtime_param = light


def _lightened_help(get_help_option: Any) -> Any:
    def lightened(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            _lighten(option)
        return option

    return lightened


def _in_range(value: float, info: Any) -> bool:
    return (info.min is None or value >= info.min) and (info.max is None or value <= info.max)


def _bool(value: Any, info: Any) -> Any:
    return value if type(value) is bool else _UNSURE


def _str(value: Any, info: Any) -> Any:
    return value if type(value) is str else _UNSURE


def _int(value: Any, info: Any) -> Any:
    if type(value) is str and _INT.fullmatch(value):
        value = int(value)
    if type(value) is int and _in_range(value, info):
        return value
    return _UNSURE


def _float(value: Any, info: Any) -> Any:
    if type(value) is str and _FLOAT.fullmatch(value):
        value = float(value)
    if type(value) is float and _in_range(value, info):
        return value
    return _UNSURE


def _path(value: Any, info: Any) -> Any:
    """typer's ``coerce_cli_path`` with default flags, for a value it accepts."""
    if type(value) is str and value and "\0" not in value:
        value = Path(value)
    if type(value) is not type(Path()):
        return _UNSURE
    try:
        os.stat(value)
    except OSError:
        return value  # need not exist
    return value if os.access(value, os.R_OK) else _UNSURE  # unreadable: typer says so


def _str_list(value: Any, info: Any) -> Any:
    if isinstance(value, list | tuple) and all(type(v) is str for v in value):
        return list(value)
    return _UNSURE


_PLAIN_PATH = {"exists": False, "file_okay": True, "dir_okay": True, "writable": False,
               "readable": True, "resolve_path": False, "allow_dash": False,
               "path_type": None}


def _converter(annotation: Any, info: Any) -> Any:
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
        return None
    if annotation is bool:
        return _bool
    if annotation is str:
        return _str
    if annotation is int:
        return _int
    if annotation is float:
        return _float
    if annotation is Path and all(getattr(info, k, None) == v for k, v in _PLAIN_PATH.items()):
        return _path
    if annotation == list[str]:
        return _str_list
    return None


if RuntimeParam is not None:

    class _LightParam(RuntimeParam):
        """typer's RuntimeParam (None and multi-value handling included) with a converter
        that answers only when sure; otherwise typer's own converter answers. (Not a
        dataclass itself: making one costs ~1 ms at start-up.)"""

        def __init__(self, parameter_info: Any, annotation: Any, convert: Any) -> None:
            super().__init__(parameter_info=parameter_info, annotation=annotation)
            object.__setattr__(self, "convert", convert)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            out = self.convert(value, self.parameter_info)  # type: ignore[attr-defined]
            if out is _UNSURE:
                param._runtime_param = build_runtime_param(param.type_descriptor)
                return param._runtime_param._coerce_value(value, param=param, ctx=ctx)
            return out


def _light_param(param: Any) -> Any:
    descriptor = param.type_descriptor
    if descriptor.file_annotation is not None:
        return None
    convert = _converter(descriptor.annotation, descriptor.parameter_info)
    if convert is None:
        return None
    return _LightParam(parameter_info=descriptor.parameter_info,
                       annotation=descriptor.annotation, convert=convert)
