"""Retrieval in the item browser: the snippets behind an answer, which were shown to the
model (``cited``) and which its reasoning named (``referenced``), i-MedRAG's follow-up
query–answer pairs and uncertainty-guided search's rounds.

Answers record passages without their text (`medq.retrieval.context.passage_record`), but
every snippet shown to the model is in a stored prompt, laid out as ``Document [n] (Title:
...) content``, and the prompt is already in the payload's string table: a snippet's text
is stored as a slice of that prompt, so it costs three numbers, not a second copy. A
snippet that was retrieved but never shown has no stored text (unless its record carries
``content``), and the page says so.

Snippets go into one table keyed by (corpus, ID), so a snippet retrieved for many items and
runs is stored once; each retrieval then costs three numbers per snippet: [table row,
score, marks].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from medq.prompts import template

SHOWN, REFERENCED = 1, 2  # mark bits: shown to the model (cited), named by the reasoning
DOCUMENT_PROMPTS = ("medrag", "imedrag_answer_query", "uncertainty_search_answer")


def has_retrieval(details: dict[str, Any]) -> bool:
    """Whether an answer's details come from a retrieval strategy."""
    return "cited" in details and any(
        key in details for key in ("retrieved", "follow_ups", "rounds"))


@cache
def _tails() -> tuple[str, ...]:
    """What follows the documents in each prompt that shows them: where the last one ends.

    Snippet text may hold blank lines (chunks keep their paragraphs), so the end is the
    first line of the template after ``{documents}``, not merely a blank line.
    """
    tails = []
    for name in DOCUMENT_PROMPTS:
        after = template(name).split("{documents}", 1)[-1].split("{", 1)[0]
        first_line = after.lstrip("\n").split("\n", 1)[0]
        if first_line:
            tails.append("\n\n" + first_line)
    return tuple(tails)


def documents_in(prompt: str, records: Sequence[dict[str, Any]]) -> list[tuple[int, int]] | None:
    """Where `prompt` shows the texts of `records` (``Document [1]`` onwards, in order), as
    (start, end) slices; None when the prompt does not show these documents."""
    if not records:
        return None
    heads = []
    at = 0
    for n, record in enumerate(records, start=1):
        head = f"Document [{n}] (Title: {record.get('title', '')}) "
        at = prompt.find(head, at)
        if at < 0 or (at > 0 and prompt[at - 1] != "\n"):
            return None
        heads.append((at, at + len(head)))
        at += len(head)
    last = heads[-1][1]
    ends = [found for tail in (*_tails(), f"\nDocument [{len(records) + 1}] (Title: ")
            if (found := prompt.find(tail, last)) >= 0]
    spans = [(start, heads[i + 1][0] - 1) for i, (_, start) in enumerate(heads[:-1])]
    spans.append((last, min(ends, default=len(prompt))))
    return spans


Text = tuple[str, int, int]  # a string and the slice of it that is the snippet's text


def _utf16(text: str, index: int) -> int:
    """`index` in JavaScript's units (UTF-16 code units), for ``String.slice`` in the page."""
    return index if text.isascii() else len(text[:index].encode("utf-16-le")) // 2


class SnippetTable:
    """Each snippet once: [corpus, ID, title, text] as string-table indices (-1: none),
    followed by [start, end] when the text is a slice of that string (a prompt)."""

    def __init__(self, strings: Callable[[str | None], int]) -> None:
        self.strings = strings
        self.index: dict[tuple[str, str], int] = {}
        self.rows: list[list[int]] = []
        self.lengths: list[int] = []

    def __call__(self, record: dict[str, Any], text: Text | None) -> int:
        s = self.strings
        key = (str(record.get("corpus") or ""), str(record["id"]))
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.rows)
            self.rows.append([s(key[0] or None), s(key[1]), s(record.get("title") or None),
                              -1])
            self.lengths.append(-1)
        if text is not None and text[2] - text[1] > self.lengths[found]:
            # A prompt can show a snippet cut to fit the budget; keep the fullest text seen.
            whole, start, end = text
            row = self.rows[found]
            row[3:] = ([s(whole)] if (start, end) == (0, len(whole)) else
                       [s(whole), _utf16(whole, start), _utf16(whole, end)])
            self.lengths[found] = end - start
        return found


def retrieval_record(details: dict[str, Any], prompts: Sequence[str],
                     strings: Callable[[str | None], int],
                     table: SnippetTable) -> dict[str, Any]:
    """One run's retrieval for one item, compactly.

    Keys, each only when there is something to show: ``k`` the ranked snippets
    ([table row, score, marks] each), ``f`` i-MedRAG's follow-ups ([query, answer,
    snippets]), ``u`` uncertainty-guided search's rounds ([votes, entropy, queries, ranks
    in ``k`` shown that round]), ``ms`` the milliseconds spent retrieving.
    """
    cited = {str(i) for i in details.get("cited") or []}
    referenced = {str(i) for i in details.get("referenced") or []}
    texts = _texts(details, prompts)
    out: dict[str, Any] = {}

    def occurrence(record: dict[str, Any], marks: int) -> list[Any]:
        text = record.get("content", record.get("text"))
        row = table(record, (text, 0, len(text)) if isinstance(text, str)
                    else texts.get(str(record["id"])))
        score = record.get("score")
        return [row, round(score, 4) if isinstance(score, int | float) else None, marks]

    def marks(record: dict[str, Any]) -> int:
        ident = str(record["id"])
        return (SHOWN if ident in cited else 0) | (REFERENCED if ident in referenced else 0)

    rounds = [r for r in details.get("rounds") or [] if isinstance(r, dict) and "cited" in r]
    ranked = details.get("retrieved")
    if ranked is None and rounds:  # uncertainty_search: everything found, in order
        ranked = next((r["retrieved"] for r in reversed(rounds) if "retrieved" in r), None)
    if ranked is not None:
        out["k"] = [occurrence(r, marks(r)) for r in ranked]
    if rounds:
        position = {str(r["id"]): n for n, r in enumerate(ranked or [])}
        out["u"] = [[
            strings(" ".join(v or "—" for v in r.get("votes", []))),
            r.get("entropy"),
            [strings(q) for q in r.get("queries", [])],
            [position[str(i)] for i in r["cited"] if str(i) in position],
        ] for r in rounds]
    follow_ups = details.get("follow_ups")
    if follow_ups:
        out["f"] = [[strings(f.get("query")), strings(f.get("answer")),
                     [occurrence(r, SHOWN) for r in f.get("retrieved", [])]]
                    for f in follow_ups]
    if isinstance(details.get("retrieval_ms"), int | float):
        out["ms"] = details["retrieval_ms"]
    return out


def _texts(details: dict[str, Any], prompts: Sequence[str]) -> dict[str, Text]:
    """Snippet ID -> (prompt, start, end), for every snippet a prompt of this answer showed."""
    records: dict[str, dict[str, Any]] = {}
    groups: list[list[str]] = []  # IDs shown together in one prompt, in order
    for r in details.get("retrieved") or []:
        records.setdefault(str(r["id"]), r)
    if details.get("retrieved") is not None:
        groups.append([str(i) for i in details.get("cited") or []])
    for f in details.get("follow_ups") or []:
        shown = f.get("retrieved") or []
        for r in shown:
            records.setdefault(str(r["id"]), r)
        groups.append([str(r["id"]) for r in shown])
    rounds = [r for r in details.get("rounds") or [] if isinstance(r, dict)]
    for r in rounds:
        for record in r.get("retrieved") or []:
            records.setdefault(str(record["id"]), record)
    groups.extend([str(i) for i in r.get("cited") or []] for r in rounds)
    texts: dict[str, Text] = {}
    for group in groups:
        if not group or all(i in texts for i in group) or any(i not in records for i in group):
            continue
        shown = [records[i] for i in group]
        for prompt in prompts:
            found = documents_in(prompt, shown)
            if found is not None:
                for ident, (start, end) in zip(group, found, strict=True):
                    texts.setdefault(ident, (prompt, start, end))
                break
    return texts
