"""The command line's light converters (`medq._cli_params`) give what typer's own give:
the same value of the same type, or the same error, for every parameter of every command
(issue 19: no pydantic for plain values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

typer_coercion = pytest.importorskip("typer._coercion")  # typer >= 0.19

import typer.main  # noqa: E402
from typer.core import _TyperParameter  # noqa: E402

from medq._cli_params import light_coercion  # noqa: E402
from medq.cli import app  # noqa: E402


def _params() -> list[tuple[str, Any]]:
    group = typer.main.get_command(app)
    light_coercion(group)
    found, stack = [], [("medq", group)]
    while stack:
        path, cmd = stack.pop()
        stack.extend((f"{path} {name}", sub) for name, sub in getattr(cmd, "commands", {}).items())
        found.extend((f"{path} --{p.name}", p) for p in cmd.params
                     if isinstance(p, _TyperParameter))
    return found


def _values(tmp: Path) -> list[Any]:
    unreadable = tmp / "unreadable"  # not for root, who reads it anyway
    unreadable.write_text("x")
    unreadable.chmod(0)
    return [None, "", " ", "x", "0", "1", "-1", "12", "007", "+3", " 4", "1_000", "1.5", "-0.25",
            "1e3", "inf", "nan", "0.1234567890123456789", "99999999999999999999", "1.", ".5",
            0, 7, -2, 0.5, 2.0, True, False, str(tmp), str(tmp / "missing"), "rel/x",
            "a//b/", "a\0b", str(unreadable), tmp, Path("rel"), (), ("a", "b"), ["c"],
            ("a", 1), b"bytes"]


def _outcome(runtime: Any, value: Any, param: Any) -> tuple[str, Any]:
    try:
        out = runtime.coerce(value, param=param, ctx=None)
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return "error", (type(exc).__name__, str(exc))
    return "value", (type(out), repr(out))  # repr: nan equals nan


def test_light_converters_agree_with_typers_own(tmp_path: Path) -> None:
    params = _params()
    assert len(params) > 150
    light = 0
    for where, param in params:
        fast = param._runtime_param
        if fast is None:
            continue
        light += 1
        for value in _values(tmp_path):
            real = typer_coercion.build_runtime_param(param.type_descriptor)
            param._runtime_param = fast
            got = _outcome(fast, value, param)
            param._runtime_param = fast  # a delegation replaces it
            want = _outcome(real, value, param)
            assert got == want, (where, value)
    assert light > 150


def test_a_command_line_of_plain_values_builds_none_of_typers_converters() -> None:
    # What a command line gives (strings) and the defaults: none needs pydantic.
    from typer.testing import CliRunner

    built = []
    plain = typer_coercion.build_runtime_param

    def counting(descriptor: Any) -> Any:
        built.append(descriptor.annotation)
        return plain(descriptor)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("medq._cli_params.build_runtime_param", counting)
        mp.setattr("typer.core.build_runtime_param", counting)
        result = CliRunner().invoke(app, ["eval", "--task", "medqa", "--model", "openai/m",
                                          "--sample", "--limit", "1", "--dry-run",
                                          "--timeout", "30", "--probe", "permute"])
    assert result.exit_code == 0, result.output
    assert built == []
