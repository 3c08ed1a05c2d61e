"""A response prepared for reading: reasoning blocks, width forms and markup neutralised.

Every view here has exactly the length of the original text, character for character, so
an offset found in a view is an offset into what the model wrote (the deciding span the
report highlights). Full-width letters and punctuation (``Ｃ``, ``：``), CJK and Arabic
punctuation, Arabic-Indic digits, typographic quotes and dashes fold to their ASCII forms;
reasoning blocks, Markdown emphasis and literal ``\\n`` escapes become blanks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Prepared", "fold", "prepare", "strip_reasoning"]


def _fold_table() -> dict[int, str]:
    table = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
    table.update({cp: chr(0x30 + cp - 0x0660) for cp in range(0x0660, 0x066A)})  # ٠-٩
    table.update({cp: chr(0x30 + cp - 0x06F0) for cp in range(0x06F0, 0x06FA)})  # ۰-۹
    table.update({cp: chr(0x31 + cp - 0x2460) for cp in range(0x2460, 0x2469)})  # ①-⑨
    singles = {
        "\u3000": " ", "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
        "\u202f": " ", "\u200b": " ", "\u200c": " ", "\u00ad": " ", "\u2060": " ",
        "\ufeff": " ", "\u2028": "\n",
        "\u3002": ".", "\uff61": ".", "\u3001": ",", "\uff64": ",", "\u060c": ",",
        "\u061b": ";", "\u061f": "?", "\u06d4": ".", "\u066b": ".", "\u066c": ",",
        "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"', "\u3010": "[",
        "\u3011": "]", "\u3014": "(", "\u3015": ")", "\u3008": "<", "\u3009": ">",
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2039": "'", "\u203a": "'", "\u2010": "-", "\u2011": "-", "\u2012": "-",
        "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u30fc": "\u30fc",
        "\u2024": ".", "\ufe52": ".", "\ufe55": ":", "\ufe50": ",",
    }
    table.update({ord(k): v for k, v in singles.items()})
    return table


_FOLD = _fold_table()

# Reasoning-block tags in the forms open models write them (matched on lower-cased text):
# <think> and kin, <|begin_of_thought|> (Sky-T1 / OpenThoughts), ◁think▷ (Kimi), [THINK]
# (Magistral). One linear scan pairs each opener with the next closer of its family.
_TAG = re.compile(
    r"<(?P<a_close>/)?(?P<a>think|thinking|reasoning|seed:think)\s*>"
    r"|<\|(?P<b>begin|end)_of_thought\|>"
    r"|\u25c1(?P<k_close>/)?think\u25b7"
    r"|\[(?P<m_close>/)?think\]"
)


def _tag(m: re.Match[str]) -> tuple[str, bool]:
    """(family, is_closing) of a reasoning tag."""
    if m.group("a"):
        return m.group("a"), bool(m.group("a_close"))
    if m.group("b"):
        return "thought", m.group("b") == "end"
    if m.start("k_close") >= 0 or m.group().startswith("\u25c1"):
        return "kimi", bool(m.group("k_close"))
    return "magistral", bool(m.group("m_close"))


def _reasoning_spans(low: str) -> tuple[list[tuple[int, int]], int | None]:
    """The spans of closed reasoning blocks (a closing tag alone also hides all before it,
    as when the chat template opened the block), and where an unclosed one starts."""
    blocks: list[tuple[int, int]] = []
    opened: tuple[str, int] | None = None
    orphan_end = 0
    for m in _TAG.finditer(low):
        family, closing = _tag(m)
        if opened is None:
            if closing:
                orphan_end = m.end()
            else:
                opened = (family, m.start())
        elif closing and family == opened[0]:
            blocks.append((opened[1], m.end()))
            opened = None
    if opened is not None:
        return blocks, opened[1]
    if orphan_end:
        blocks = [(0, max([orphan_end, *(e for s, e in blocks if s < orphan_end)]))] + [
            (s, e) for s, e in blocks if s >= orphan_end]
    return blocks, None


# Markup that carries no words: emphasis, code ticks, inline maths dollars.
_MARKUP = re.compile(r"[*_`$]+")  # one character class first, so re skips fast
# A literal backslash escape typed as text ("D\n\nBecause"): not LaTeX such as \nu, \times.
_LITERAL_ESCAPE = re.compile(r"\\(?:n|r)(?![a-z])|\\t(?![a-z])|\\(?=[ \t]*(?:\n|$))")


@dataclass(frozen=True)
class Prepared:
    """The views of one response, all as long as the original.

    ``raw`` keeps markup (for JSON and ``\\boxed``); ``prose`` is for statements; ``low``
    is ``prose`` lower-cased; ``unclosed`` is the span of a reasoning block that never
    closes, or None; ``visible`` the stretches outside reasoning blocks, where answers are
    looked for.
    """

    original: str
    raw: str
    prose: str
    low: str
    unclosed: tuple[int, int] | None
    visible: tuple[tuple[int, int], ...]  # the stretches outside reasoning blocks


def fold(text: str) -> str:
    """`text` with width forms, CJK/Arabic punctuation, quotes and dashes folded to ASCII
    (same length)."""
    return text if text.isascii() else text.translate(_FOLD)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + "\n" + " " * (end - start - 1) + text[end:] if end > start else text


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters lower-case to two ("İ"): keep those as they are.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _unmark(m: re.Match[str]) -> str:
    # "**", "__", code ticks and maths dollars carry no words; a single "*" or "_" may.
    run = m.group()
    return run if len(run) == 1 and run in "*_" else " " * len(run)


def prepare(text: str) -> Prepared:
    """All views of `text` (see :class:`Prepared`)."""
    folded = fold(text)
    raw = folded
    unclosed = None
    visible: tuple[tuple[int, int], ...] = ((0, len(text)),)
    if "<" in raw or "[" in raw or "\u25c1" in raw:
        blocks, opened_at = _reasoning_spans(_lower(folded))
        if opened_at is not None:
            unclosed = (opened_at, len(text))
            raw = " " * len(raw)
            visible = ()
        elif blocks:
            for start, end in reversed(blocks):
                raw = _blank(raw, start, end)
            edges = [0, *(x for block in blocks for x in block), len(text)]
            visible = tuple((edges[i], edges[i + 1]) for i in range(0, len(edges), 2)
                            if edges[i + 1] > edges[i])
    prose = raw
    if "*" in raw or "_" in raw or "`" in raw or "$" in raw:
        prose = _MARKUP.sub(_unmark, raw)
    if "\\" in prose:
        prose = _LITERAL_ESCAPE.sub(lambda m: " " * (len(m.group()) - 1) + "\n"
                                    if m.group()[1:2] in ("n", "r") else " " * len(m.group()),
                                    prose)
    return Prepared(text, raw, prose, _lower(prose), unclosed, visible)


_STRIP_BLOCK = re.compile(r"<(think|thinking)>.*?</\1\s*>", re.S | re.I)
_STRIP_OPEN = re.compile(r"<(think|thinking)>", re.I)
_STRIP_CLOSE = re.compile(r"</(?:think|thinking)\s*>", re.I)


def strip_reasoning(text: str) -> tuple[str, str | None]:
    """`text` without its <think>/<thinking> blocks, and why it is unusable (or None).

    An opened block that never closes leaves nothing to read: ("", reason). Used by the
    calculation and correction readers, which need the remaining text itself.
    """
    body = _STRIP_BLOCK.sub("\n", text)
    opened = _STRIP_OPEN.search(body)
    if opened is not None:
        return "", f"unclosed <{opened.group(1).lower()}> block"
    closings = list(_STRIP_CLOSE.finditer(body))
    if closings:
        body = body[closings[-1].end():]
    return body, None
