"""One response read end to end: prepare, find statements, decide, explain."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from medq.scoring.extraction.commitment import clause_quiet, decide, markers
from medq.scoring.extraction.lexicon import lexicon
from medq.scoring.extraction.lines import echo_end, line_statements, mentioned
from medq.scoring.extraction.statements import Grammar, Statement, grammar
from medq.scoring.extraction.text import prepare

__all__ = ["INVALID_REASONS", "Extraction", "MultiExtraction", "read_choice", "read_choices"]

INVALID_REASONS = ("no_answer", "conflict", "retracted", "out_of_range", "unclosed_think",
                   "refusal", "several_answers")


@dataclass(frozen=True)
class Extraction:
    """The outcome of reading one response.

    Attributes:
        choice: the option key chosen, or ``None`` when the response is invalid.
        method: the rule that decided ("json", "boxed", "answer_line", "bare_letter",
            "letter_prefix", "option_text", "yes_no", "affirmation", "option_mention",
            "retraction"), or ``None`` when no rule applied.
        reason: for an invalid response, one of :data:`INVALID_REASONS`.
        span: ``(start, end)`` offsets into the original text of the deciding statement,
            or ``None``.
        detail: a sentence saying why, for people ("answer 'E' is not one of the options
            (A-D)").
    """

    choice: str | None
    method: str | None
    reason: str | None = None
    span: tuple[int, int] | None = None
    detail: str | None = None


@dataclass(frozen=True)
class MultiExtraction:
    """The outcome of reading a multiple-answer response: ``choices`` is the set of option
    keys chosen, or ``None`` when invalid; the other fields as in :class:`Extraction`."""

    choices: frozenset[str] | None
    method: str | None
    reason: str | None = None
    span: tuple[int, int] | None = None
    detail: str | None = None


_FAST = re.compile(r"[ \t\n]*[(\[*]*[ \t]*([A-Za-z0-9])[ \t]*[)\]*]*[ \t]*[.:]*[ \t\n]*")


def read_choice(text: str, options: Mapping[str, str],
                languages: Sequence[str] = ("en",)) -> Extraction:
    """See `medq.scoring.extract.extract_choice`."""
    g = _grammar(options, languages)
    if len(text) <= 12:
        fast = _FAST.fullmatch(text)
        if fast is not None:
            key = g.opts.key(fast.group(1))
            if key is not None:
                return Extraction(key, "bare_letter", None, fast.span(1))
    found = _read(text, g, multi=False)
    if isinstance(found, Extraction):
        return found
    winner, detail = found
    value = winner.value
    assert value is not None
    span = (winner.start, max(winner.end, value.end))
    if value.reason is not None:
        return Extraction(None, winner.method, value.reason, span, value.detail)
    return Extraction(value.keys[0], winner.method, None, span)


def read_choices(text: str, options: Mapping[str, str],
                 languages: Sequence[str] = ("en",)) -> MultiExtraction:
    """See `medq.scoring.extract.extract_choices`."""
    g = _grammar(options, languages)
    found = _read(text, g, multi=True)
    if isinstance(found, Extraction):
        return MultiExtraction(
            None if found.choice is None else frozenset({found.choice}), found.method,
            found.reason, found.span, found.detail)
    winner, _ = found
    value = winner.value
    assert value is not None
    span = (winner.start, max(winner.end, value.end))
    if value.reason is not None and value.reason != "several_answers":
        return MultiExtraction(None, winner.method, value.reason, span, value.detail)
    return MultiExtraction(frozenset(value.keys), winner.method, None, span)


def _grammar(options: Mapping[str, str], languages: Sequence[str]) -> Grammar:
    if isinstance(languages, str):
        languages = (languages,)
    items = tuple((str(k), "" if v is None else str(v)) for k, v in options.items())
    return grammar(items, lexicon(tuple(languages)))


def _invalid(reason: str, detail: str, span: tuple[int, int] | None = None,
             method: str | None = None) -> Extraction:
    return Extraction(None, method, reason, span, detail)


def _read(text: str, g: Grammar, *, multi: bool) -> Extraction | tuple[Statement, None]:
    if not text or not text.strip():
        return _invalid("no_answer", "empty response")
    prep = prepare(text)
    if prep.unclosed is not None:
        tag = text[prep.unclosed[0]:prep.unclosed[0] + 20].split(">")[0].lstrip("<[")
        return _invalid("unclosed_think", f"unclosed <{tag.lower()}> block", prep.unclosed)
    prose, low = prep.prose, prep.low
    if not prose.strip():
        return _invalid("no_answer", "no answer after the reasoning block")
    cut = echo_end(g, prose)
    if not prose[cut:].strip():
        return _invalid("no_answer", "no answer after the repeated question")
    # Answers are looked for outside reasoning blocks (and after an echoed question).
    spans = [(max(s, cut), e) for s, e in prep.visible if e > cut]
    statements = []
    for s, e in spans:
        statements += g.scan(prose, low, prep.raw, s, e, multi=multi)
        statements += line_statements(g, prose, low, s, e, multi=multi)
    statements.sort(key=lambda st: (st.pos, st.start))
    mk = markers(g.lex)
    decision = decide(statements, low, mk)
    if decision.winner is not None:
        return decision.winner, None
    if decision.retracted_by is not None:
        st = decision.retracted_by
        return _invalid("retracted", "the answer stated was withdrawn, and none replaced it",
                        (st.start, st.end), "retraction")
    found = [v for s, e in spans for v in mentioned(
        g, prose, low, s, e, list(decision.quiet), lambda a, b: clause_quiet(low, mk, a, b))]
    keys = {v.keys[0] for v in found}
    if len(keys) == 1:
        last = found[-1]
        return Extraction(last.keys[0], "option_mention", None, (last.start, last.end))
    refusal = next((m for s, e in spans if (m := mk.refusal.search(low, s, e))), None)
    if refusal is not None:
        return _invalid("refusal", "the response declines to answer", refusal.span())
    if keys:
        return _invalid("no_answer", "several options mentioned, none stated as the answer")
    return _invalid("no_answer", "no answer found")
