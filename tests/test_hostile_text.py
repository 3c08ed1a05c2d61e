"""Untrusted text reaches a real terminal as data: escape sequences in corpus text, model
names, model output and error messages are shown escaped, never obeyed. Each command runs
under `script`, so medq writes to a pseudo-terminal exactly as it would for a user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.fault_helpers import MEDQ, invoke, medq_env

from medq._terminal import cell, for_terminal, printable
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = f"{CLEAR}{TITLE}nul\x00here\r{LINK}\u202eabc\x9b31m[bold red]markup[/]"
RAW = (CLEAR, "\x1b]0;", "\x1b]8;", "\x00", "\x07", "\r\u202e", "\u202e", "\x9b")


def in_terminal(home: Path, command: str, **env: str) -> str:
    """What a terminal receives when `command` (a shell line) runs in one."""
    if shutil.which("script") is None:
        pytest.skip("util-linux `script` is not installed")
    result = subprocess.run(["script", "-q", "-e", "-c", command, "/dev/null"],
                            env=medq_env(home, **env), capture_output=True, timeout=120)
    return result.stdout.decode("utf-8", "replace")


def assert_not_obeyed(screen: str) -> None:
    for sequence in RAW:
        assert sequence not in screen, (sequence, screen)


def assert_shown_not_obeyed(screen: str) -> None:
    assert_not_obeyed(screen)
    assert "\\x1b[2J" in screen and "\\x1b]0;pwned\\x07" in screen and "\\x00" in screen


def medq_line(*args: str) -> str:
    return " ".join([*MEDQ, *args])


def test_printable() -> None:
    assert printable("a\x1b[2Jb\x00\u202e\n\tok") == "a\\x1b[2Jb\\x00\\u202e\n\tok"
    assert printable("two\nlines\t", one_line=True) == "two\\x0alines\\x09"
    assert printable("plain text, é, ü, 日本") == "plain text, é, ü, 日本"
    assert cell("[bold]x[/]").plain == "[bold]x[/]"  # rich markup stays text
    with open(os.devnull, "w") as pipe:
        assert for_terminal(HOSTILE, pipe) == HOSTILE  # files and pipes get exact bytes


def test_search_prints_corpus_text_escaped(medq_home: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "hostile.jsonl"
    corpus.write_text(json.dumps({"id": f"id{CLEAR}", "title": f"title {HOSTILE}",
                                  "content": f"glianorex {HOSTILE}"}) + "\n", encoding="utf-8")
    assert invoke("corpus", "add", "hostile", str(corpus))[0] == 0
    screen = in_terminal(medq_home, medq_line("search", "hostile", "glianorex"))
    assert "glianorex" in screen
    assert_shown_not_obeyed(screen)
    screen = in_terminal(medq_home, medq_line("search", "hostile", "glianorex", "--format",
                                              "json"))
    assert_not_obeyed(screen)
    assert "\\u001b[2J" in screen and "\\u202e" in screen and "\\u009b" in screen
    json.loads(screen)  # still JSON
    # Off a terminal the JSON is the data itself, and parses back to the very text.
    out = subprocess.run([*MEDQ, "search", "hostile", "glianorex", "--format", "json"],
                         env=medq_env(medq_home), capture_output=True, text=True).stdout
    assert json.loads(out)[0]["content"] == f"glianorex {HOSTILE}"


def test_runs_show_export_print_model_names_and_output_escaped(medq_home: Path) -> None:
    with FakeOpenAIServer(fixed_responder(f"The answer is (B). {HOSTILE}")) as server:
        code, _, err = invoke("eval", "--task", "medqa", "--sample", "--model",
                              f"openai/fake{TITLE}{CLEAR}", "--base-url", server.base_url,
                              "--limit", "2")
    assert code == 0, err
    for args in (("runs",), ("show", "last"), ("export", "last"), ("export", "last",
                                                                     "--format", "csv")):
        screen = in_terminal(medq_home, medq_line(*args))
        assert "openai/fake" in screen or "The answer is" in screen, screen
        assert_not_obeyed(screen)
    exported = subprocess.run([*MEDQ, "export", "last"], env=medq_env(medq_home),
                              capture_output=True, text=True).stdout
    assert json.loads(exported.splitlines()[0])["response"].endswith(HOSTILE)


def test_error_messages_are_escaped(medq_home: Path) -> None:
    typed = HOSTILE.replace("\x00", "")  # an argument cannot hold NUL
    for args, says in ((("show", '"$TEXT"'), "error: no run matches"),
                       (("search", '"$TEXT"', "q"), "is not a plain name")):
        screen = in_terminal(medq_home, medq_line(*args), TEXT=f"a{typed}")
        assert says in screen
        assert_not_obeyed(screen)
        assert "\\x1b[2J" in screen and "\\x1b]0;pwned\\x07" in screen
