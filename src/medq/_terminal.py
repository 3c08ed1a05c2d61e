"""Untrusted text on a terminal: shown as data, never obeyed.

Model output, corpus text, benchmark fields, run and model names can hold control
characters: ``ESC [2J`` clears the screen, ``ESC ]0;…BEL`` retitles the window, OSC 8
plants links, NUL and CR hide what came before, bidirectional overrides reorder what a
reader sees. `printable` writes each such character as a visible escape (``\\x1b``,
``\\u202e``), so the text reads the same and does nothing. `cell` does that for a rich
table cell and also keeps rich from reading ``[...]`` in the text as markup.

Every path from the CLI to a terminal goes through these: tables, plain lines, error
messages, and (when standard output is a terminal) machine formats printed to it.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

__all__ = ["cell", "for_terminal", "printable"]

# C0 controls, DEL, C1 controls (8-bit CSI/OSC), and the bidirectional marks and overrides.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_MULTILINE = re.compile(f"[{_UNSAFE}]")
_UNSAFE_ONE_LINE = re.compile(f"[{_UNSAFE}\t\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    # C0 as \x1b (familiar); the rest as \u009b, which is also valid inside a JSON string.
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def printable(text: object, *, one_line: bool = False) -> str:
    """`text` with every control character written as a visible escape; newlines and tabs
    are kept unless `one_line`.

    Example:
        >>> printable("a\\x1b[2Jb")
        'a\\\\x1b[2Jb'
    """
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE_MULTILINE
    return pattern.sub(_escape, str(text))


def cell(value: object) -> Any:
    """A rich `Text` for a table cell (or title): escaped, one line, no markup."""
    from rich.text import Text

    return Text(printable(value, one_line=True))


def for_terminal(text: str, stream: TextIO) -> str:
    """`text` escaped when `stream` is a terminal; unchanged for a file or a pipe, so
    machine formats (JSON lines, CSV, HTML) written there stay byte for byte."""
    isatty = getattr(stream, "isatty", None)
    return printable(text) if isatty is not None and isatty() else text
