"""Every command of `medq`, found by walking the typer app, given bad arguments: each exits
2 with one ``error:`` line and no traceback.

The bad arguments are made from each parameter's own declaration (an unknown flag, a word
where a number goes, a number under the declared minimum, an unknown --format, a missing
required argument, a path that does not exist, a run that does not exist), plus the
command-specific cases in `SPECIFIC`. A command added later is walked the same way, and a
command with no generated case fails `test_every_command_is_walked`.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from tests.fault_helpers import invoke, store_with_run

from medq.cli import app

# Valid values for required parameters, so that the bad one is what fails.
VALID = {"run": "last", "runs": "last", "corpus": "c", "query": "glianorex", "name": "c2",
         "task": "medqa", "model": "scripted/first"}
RUN_PARAMS = {"run", "runs", "baseline"}
PATH_INPUTS = {"file", "data", "config", "path"}

SPECIFIC: dict[str, list[tuple[str, ...]]] = {
    "eval": [("--task", "medqa", "--sample", "--model", "nope"),
             ("--task", "no-such-task", "--sample", "--model", "scripted/first"),
             ("--task", "medqa", "--sample", "--model", "scripted/first", "--strategy",
              "no_such_strategy"),
             ("--task", "medqa", "--sample", "--model", "scripted/first", "--strategy", "cot("),
             ("--task", "medqa", "--sample", "--model", "scripted/first", "--strategy",
              "self_consistency:n=abc"),
             ("--task", "medqa", "--sample", "--model", "scripted/first", "--scoring", "vibes"),
             ("--model", "scripted/first"),
             ("--task", "medqa", "--sample", "--model", "scripted/first", "--strategy",
              "medrag:corpus=/etc")],
    "export": [("last", "-o", "{missing}/x.jsonl"), ("last", "-o", "{tmp}"),
               ("last", "--format", "parquet")],
    "report": [("last", "-o", "{missing}/x.html"), ("no-such-run",)],
    "compare": [("last",), ("last", "last")],
    "import": [("{tmp}/preds.jsonl", "--task", "medqa", "--model", "m", "--format", "nope"),
               ("{tmp}/preds.jsonl", "--task", "nope", "--model", "m")],
    "search": [("c", "q", "--retriever", "tfidf"), ("/etc", "q"), ("c/../..", "q")],
    "index build": [("c", "--retriever", "tfidf"), ("/etc",), ("../c",)],
    "corpus add": [("c3",), ("c3", "{tmp}/preds.jsonl", "--hub", "textbooks"),
                   ("../c3", "{tmp}/preds.jsonl"), ("c", "{tmp}/preds.jsonl"),
                   ("c3", "{tmp}/preds.jsonl", "--overlap-words", "200")],
    "show": [("last", "--by", "subject", "--extractor", "no-such-version")],
}


def _commands() -> Iterator[tuple[str, Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])


def _parameters(command: Any) -> Iterator[tuple[Any, type, Any]]:
    """(click parameter, its plain Python type, its typer declaration) for each one."""
    hints = typing.get_type_hints(command.callback, include_extras=True)
    for param in command.params:
        hint = hints[param.name]
        info = None
        if typing.get_origin(hint) is typing.Annotated:
            hint, info = typing.get_args(hint)[0], typing.get_args(hint)[1]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        yield param, typing.get_origin(hint) or hint, info


def _required(command: Any, skip: str) -> list[str]:
    """Valid values for the command's required parameters other than `skip`."""
    args: list[str] = []
    for param, _, _ in _parameters(command):
        if param.name == skip or not param.required:
            continue
        value = VALID.get(param.name, "{tmp}/preds.jsonl")
        args.extend([value] if not param.opts[0].startswith("-") else [param.opts[0], value])
    return args


def bad_arguments(path: str, command: Any) -> list[tuple[str, ...]]:
    """The generated bad invocations of one command (its name included)."""
    words = path.split()
    cases: list[tuple[str, ...]] = [(*words, *_required(command, ""), "--no-such-flag")]
    if any(p.required for p in command.params):
        cases.append(tuple(words))  # a required argument missing
    for param, kind, info in _parameters(command):
        flag = param.opts[0]
        positional = not flag.startswith("-")
        base = [*words, *_required(command, param.name)]

        def case(value: str, base: list[str] = base, flag: str = flag,
                 positional: bool = positional) -> tuple[str, ...]:
            return (*base, value) if positional else (*base, flag, value)

        if kind is int:
            cases.append(case("abc"))
            if getattr(info, "min", None) is not None:
                cases.append(case(str(info.min - 1)))
        if param.name == "output_format":
            cases.append(case("bogus"))
        if kind is Path and param.name in PATH_INPUTS:
            cases.append(case("{missing}/nothing.jsonl"))
        if param.name in RUN_PARAMS:
            cases.append(case("no-such-run"))
    cases.extend((*words, *args) for args in SPECIFIC.get(path, []))
    return cases


@pytest.fixture
def stocked(medq_home: Path, tmp_path: Path) -> dict[str, str]:
    """A store with a run, a corpus "c" and a predictions file; the `{...}` placeholders."""
    store_with_run(medq_home, items=2)
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"id": "1", "content": "glianorex"}) + "\n")
    assert invoke("corpus", "add", "c", str(preds))[0] == 0
    return {"tmp": str(tmp_path), "missing": str(tmp_path / "no-such-folder")}


def test_every_command_is_walked() -> None:
    names = {path for path, _ in _commands()}
    assert {"eval", "runs", "show", "export", "report", "compare", "doctor", "search",
            "corpus add", "index build"} <= names
    for path, command in _commands():
        assert bad_arguments(path, command), path


def test_bad_arguments_exit_2_with_one_line(stocked: dict[str, str]) -> None:
    seen = 0
    for path, command in _commands():
        for case in bad_arguments(path, command):
            args = [a.format(**stocked) for a in case]
            code, out, err = invoke(*args)
            assert code == 2, (args, out, err)
            assert "Traceback" not in out + err, args
            errors = [line for line in err.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, (args, err)
            seen += 1
    assert seen > 60
