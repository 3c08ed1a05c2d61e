"""Every `medq …` command in the README's code blocks parses against the real CLI.

Placeholders stay as written (RUN, PATH); README shorthand is read as a user would:
``[--format json]`` as the option given, ``jsonl|csv|parquet`` as its first choice, ``…``
dropped. Parsing builds click contexts (options, arguments, choices, types) without running
any command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from medq.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_commands() -> list[str]:
    """`medq …` lines of the README's bash blocks, continuation lines joined."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if re.match(r"^(\.venv/bin/)?medq ", line):
                commands.append(line)
    return commands


def _words(line: str) -> list[str]:
    line = re.sub(r"\s#\s.*$", "", line)  # a trailing comment
    line = line.replace("…", "").replace("[", " ").replace("]", " ")
    words = []
    for word in shlex.split(line)[1:]:
        if "|" in word and not word.startswith(("'", '"')) and "=" not in word:
            word = word.split("|")[0]
        words.append(word)
    return words


def parse(words: list[str]) -> None:
    """Resolve subcommands and parse each level's options and arguments, as click would
    (typer may bundle its own click, so commands are recognised by what they do)."""
    command = typer.main.get_command(app)
    info = "medq"
    while True:
        context = command.make_context(info, list(words), resilient_parsing=False)
        if not hasattr(command, "get_command"):
            return
        rest = [*getattr(context, "_protected_args", ()), *context.args]
        if not rest:
            return
        name, words = rest[0], rest[1:]
        found = command.get_command(context, name)
        assert found is not None, f"no command {name!r}"
        command, info = found, f"{info} {name}"


def test_the_readme_has_commands() -> None:
    commands = readme_commands()
    assert len(commands) >= 20
    assert any("--task medqa,medmcqa" in c for c in commands)
    assert any(c.startswith(".venv/bin/medq report") for c in commands)


@pytest.mark.parametrize("line", ["medq eval --nosuch 1", "medq showw RUN",
                                  "medq export", "medq eval --limit many"])
def test_a_wrong_command_does_not_parse(line: str) -> None:
    with pytest.raises(Exception) as info:
        parse(_words(line))
    assert hasattr(info.value, "format_message") or isinstance(info.value, AssertionError)


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_parses(line: str) -> None:
    try:
        parse(_words(line))
    except Exception as exc:
        if type(exc).__name__ == "Exit":  # --help / --version
            return
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        pytest.fail(f"{line!r}: {message}")
