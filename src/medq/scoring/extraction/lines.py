"""Answers given as whole lines, the question echoed back, and letters merely mentioned.

A line that is only a label ("C", "**(C)**", "Option C", "B..") states an answer wherever
it stands. A line that opens with a label and text ("C) Pulmonary embolism", "c. Pulmonary
embolism", "4- Wiskott-Aldrich") or is an option's text ("9/10 (90%)") states one when it
opens the response, or when it is the only such line; several of them listing different
options are an explanation, not an answer.
"""

from __future__ import annotations

import re

from medq.scoring.extraction.statements import LENIENT, Grammar, Statement
from medq.scoring.extraction.values import LOOSE, Value

__all__ = ["echo_end", "line_statements", "mentioned"]

_LINE = re.compile(r"[^\n]+")
_LEAD = re.compile(r"[ \t]*(?:#+|>+)?[ \t]*(?P<bullet>[-*\u2022](?=[ \t])[ \t]*)?")
_RUN = re.compile(r"[(\[]?[A-Za-z]{2,6}[)\]]?[ \t]*[.!]?")
_FIRST_CLAUSE = re.compile(r"[^.;,\n]*")
_VERDICT = re.compile(r"(?<!\w)(?:false|incorrect|wrong)(?!\w)")
_REST_OF_TEXT_LINE = re.compile(r"[ \t]*(?:\([^()\n]*\))?[ \t.!'\"*]*$")
_OPEN_BRACKET = re.compile(r"[ \t]*\([ \t]*")
_CLOSE_BRACKET = re.compile(r"[ \t.]*\)")
_NEGATED_AFTER = re.compile(
    r"[ \t]+(?:is|are|would[ \t]+be|seems)[ \t]+(?:not|less|incorrect|wrong|unlikely|false)\b")


def line_statements(g: Grammar, prose: str, low: str, start: int = 0,
                    end: int | None = None, *, multi: bool = False) -> list[Statement]:
    """Whole-line answers (see the module docstring), in text order; with `multi`, a line
    that is a run of labels ("BCD") too."""
    bare: list[Statement] = []
    texty: list[tuple[int, Statement]] = []
    index, opens_with_answer = 0, False
    for line in _LINE.finditer(prose, start, len(prose) if end is None else end):
        lead = _LEAD.match(prose, line.start(), line.end())
        at = lead.end() if lead else line.start()
        end = line.end()
        while end > at and prose[end - 1] in " \t":
            end -= 1
        if end <= at:
            continue
        bulleted = bool(lead and lead.group("bullet"))
        found = _line_answer(g, prose, low, at, end, first=index == 0, bulleted=bulleted)
        if found is None and multi and _RUN.fullmatch(prose, at, end):
            found = _run_line(g, prose, at, end)
        if found is not None:
            opens_with_answer = opens_with_answer or index == 0
            value = found.value
            if found.method in ("bare_letter", "yes_no") or (
                value is not None and value.reason in ("several_answers", "out_of_range")
                and not value.listed):
                bare.append(found)
            else:
                texty.append((index, found))
        index += 1
    listed = len({s.value.keys for _, s in texty if s.value is not None}) > 1
    if texty and texty[0][0] == 0 and not (listed and len(texty) > 1 and texty[1][0] == 1):
        return [*bare, texty[0][1]]
    if opens_with_answer or listed:
        return bare
    return [*bare, *(s for _, s in texty)]


def _line_answer(g: Grammar, prose: str, low: str, at: int, end: int, *,
                 first: bool, bulleted: bool = False) -> Statement | None:
    """The answer a line gives, if it is one; a bulleted "- B: ..." line only as a bare
    label ("- B."), since bullets list options under review."""
    opts, reader = g.opts, g.reader
    value: Value | None
    bare = g.p.line_bare.match(prose, at, end)
    if bare is not None and not prose.startswith("?", end - 1):
        token = bare.group("lab")
        key = opts.key(token)
        if key is None:
            value = Value((), at, end, "letter", "out_of_range",
                          f"answer {token!r} is not one of the options ({opts.span})")
        else:
            value = Value((key,), at, end, "letter")
        return Statement("answer", at, at, end, LENIENT, "bare_letter", value, structured=True)
    if bulleted:
        return None
    prefix = g.p.line_prefix.match(prose, at, end)
    if prefix is not None:
        value = _prefix_answer(g, prefix, prose, low, at, end)
        if value is not None:
            return Statement("answer", at, at, end, LENIENT, "letter_prefix", value,
                             structured=True)
    if g.p.line_listed.match(prose, at, end):
        value = reader.read(prose, low, at, LOOSE)
        if value is not None and value.reason == "several_answers":
            return Statement("answer", at, at, end, LENIENT, "letter_prefix", value,
                             structured=True)
    if opts.texts:
        text = opts.match_text(low, at, end)
        if text is not None and _REST_OF_TEXT_LINE.match(low, text[1], end):
            value = reader._text(prose, low, at)
            if value is not None:
                method = "yes_no" if value.kind == "yes_no" else "option_text"
                return Statement("answer", at, at, end, LENIENT, method, value, structured=True)
    if opts.numbers:
        number = reader._number(low, at)
        if number is not None and _REST_OF_TEXT_LINE.match(low, number.end, end):
            return Statement("answer", at, at, end, LENIENT, "option_text", number, structured=True)
    if first and opts.polarity:
        value = reader._polarity(prose, low, at, 2)
        if value is not None:
            return Statement("answer", at, at, end, LENIENT, "yes_no", value, structured=True)
    return None


def _run_line(g: Grammar, prose: str, at: int, end: int) -> Statement | None:
    """A line such as "BCD" in a multiple-answer task: each letter an option, once."""
    letters = [c for c in prose[at:end] if c.isalpha()]
    keys = [g.opts.key(c) for c in letters]
    if g.opts.kind != "letter" or None in keys or len(set(keys)) != len(keys):
        return None
    chosen = tuple(k for k in keys if k is not None)
    value = Value(chosen, at, end, "letter", "several_answers",
                  f"several answers at once: {', '.join(chosen)}")
    return Statement("answer", at, at, end, LENIENT, "bare_letter", value, structured=True)


def _reviewed(g: Grammar, low: str, at: int, end: int) -> bool:
    """Whether the first clause after a line's label judges the option instead of stating
    it ("B: This answer is incorrect", "A: Hypertension false")."""
    clause = _FIRST_CLAUSE.match(low, at, end)
    stop = clause.end() if clause is not None else end
    return (g.p.judged.search(low, at, stop) is not None
            or _VERDICT.search(low, at, stop) is not None)


def _prefix_answer(g: Grammar, prefix: re.Match[str], prose: str, low: str, at: int,
                   end: int) -> Value | None:
    """The value of a line that opens 'C) text', or None when the line is prose.

    'C. text' with lower case after the full stop reads like prose ("E. coli grows")
    unless the text is an option's; 'C (text)' counts only when the brackets hold an
    option's text; a lower-case letter ("c) ...") only with an option's text. A text that
    is another option's makes the line a conflict.
    """
    opts, reader = g.opts, g.reader
    token, sep, text = prefix.group("lab"), prefix.group("sep"), prefix.group("text")
    key = opts.key(token)
    if key is None:
        return None
    text_at = prefix.start("text")
    bracketed = not sep.strip()
    if bracketed:
        opened = _OPEN_BRACKET.match(prose, text_at)
        text_at = opened.end() if opened is not None else text_at
    named = reader._text(prose, low, text_at, trailing_label=False)
    own_end = reader._own_text_end(low, text_at, key)
    if bracketed:
        close = named.end if named is not None else own_end
        if close is None or not _CLOSE_BRACKET.match(prose, close):
            return None
    elif opts.weak(token) or (sep.startswith(".") and not prefix.group("open")
                              and not (text[0].isupper() or text[0].isdigit())):
        if named is None and own_end is None:
            return None
    text_end = own_end if own_end is not None else (
        named.end if named is not None else text_at)
    if _reviewed(g, low, text_end, end):
        return None
    if named is not None and named.keys != (key,) and own_end is None:
        return Value((key,), at, end, "letter", "conflict",
                     f"{token} names option {named.keys[0]}'s text")
    if reader.p.more.search(prose, prefix.end("lab"), end) is None:
        return Value((key,), at, end, "letter")
    rest = reader.read(prose, low, at, LOOSE)
    if rest is not None and rest.reason == "several_answers":
        return Value(rest.keys, at, end, "letter", rest.reason, rest.detail,
                     listed=rest.listed)
    return Value((key,), at, end, "letter")


def echo_end(g: Grammar, prose: str) -> int:
    """Where the response continues after the last line that lists every option and little
    else ("A: ..., B: ..."): such a line is the question repeated (small models echo their
    prompt), and a planted "the correct answer is E" before it is not the model's answer."""
    opts = g.opts
    listed = [(k, opts.text_of[k]) for k in opts.keys]
    if opts.polarity or len(listed) < 3 or not all(t for _, t in listed):
        return 0
    low = prose.lower()
    if not all(t in low for _, t in listed):
        return 0
    cut = 0
    longest_list = sum(len(t) for _, t in listed) + 8 * len(listed) + 20
    for line in _LINE.finditer(prose):
        if len(line.group()) > longest_list:
            continue
        lowered = re.sub(r"\s+", " ", line.group().lower())
        at = 0
        for key, text in listed:
            found = lowered.find(text, at)
            if found < 0 or key.lower() not in lowered[max(at, found - 5):found]:
                break
            at = found + len(text)
        else:
            cut = line.end()
    return cut


def mentioned(g: Grammar, prose: str, low: str, start: int, end: int,
              excluded: list[tuple[int, int]], quiet: object) -> list[Value]:
    """Options named in passing ("surgery (option C)", "(C)", "A: Pneumonia"), outside
    hedged, negated or excluded stretches; `quiet(pos, end)` says whether a mention's
    clause hedges it."""
    opts = g.opts
    found: list[Value] = []
    for m in g.p.mention.finditer(prose, start, end):
        token = m.group("lab") or m.group("paren")
        key = opts.key(token)
        if key is None or opts.weak(token):
            continue
        if any(a <= m.start() < b for a, b in excluded):
            continue
        if _NEGATED_AFTER.match(low, m.end()) or quiet(m.start(), m.end()):  # type: ignore[operator]
            continue
        found.append(Value((key,), m.start(), m.end(), "letter"))
    for m in g.p.labeled.finditer(prose, start, end):  # "would be A: Previous suicide attempt"
        key = None if opts.weak(m.group("lab")) else opts.key(m.group("lab"))
        text = opts.text_of.get(key) if key else None
        if not text or not low.startswith(text, m.end()):
            continue
        if any(a <= m.start() < b for a, b in excluded) or quiet(m.start(), m.end()):  # type: ignore[operator]
            continue
        found.append(Value((key,), m.start(), m.end() + len(text), "letter"))  # type: ignore[arg-type]
    return found
