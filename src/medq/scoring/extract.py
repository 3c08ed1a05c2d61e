"""Answer extraction: a model's response text -> the option letter it chose, or invalid.

The rules come in tiers. The strongest tier that matches decides, and inside a tier the
*last* stated answer wins, so "I first thought A... but the answer is C" gives C:

1. explicit answers: a JSON object with an answer key (``{"answer_choice": "C"}``, also
   fenced, inside prose, nested, or slightly malformed), ``\\boxed{C}``, and answer
   phrases ("Answer: C", "The correct answer is (C)", "Final answer: C. Pneumonia");
2. lenient answers: a response that opens with its answer ("C", "C) Pneumonia", "C, because
   ...", the bare text of one option, "Yes."), a later line that is only a letter ("**C**",
   "(C)", "Option C"), "C is correct", "Therefore, C.", "I would choose C", "the most
   likely diagnosis is Pneumonia"; lines starting "A) ...", "B) ..." that list several
   options are an explanation, not an answer;
3. mentions: "option C" or "(C)" in prose count only when exactly one option is mentioned.

Statements attributed to someone else or hedged within their clause ("colleagues might
think option C is correct", "is not pneumonia (option C)") are not answers.

Choices are option keys only. A letter stated as the answer that is not an option ("E" on a
four-option question) makes the response invalid with a reason; it is never skipped in
favour of another letter. Lower-case letters count only where clearly marked ("answer: c",
"(c)"), so the article in "a patient presents" or "A 45-year-old man" is never answer A.
Two different letters with equal standing in the deciding statement ("A or C") are
invalid. ``<think>`` blocks are removed first; an opening tag without its closing tag is
invalid. There is no "most similar option" matching and no default letter: a response
that cannot be read is invalid.

Bump :data:`EXTRACTOR_VERSION` on any change of behaviour: stored results record it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["EXTRACTOR_VERSION", "Extraction", "extract_choice"]

EXTRACTOR_VERSION = "1"

CONFLICT = "conflicting answers in final statement"


@dataclass(frozen=True)
class Extraction:
    """The outcome of reading one response.

    ``choice`` is an option letter, or ``None`` when the response is invalid; ``method``
    names the rule that decided ("json", "boxed", "answer_line", "bare_letter",
    "letter_prefix", "option_text", "yes_no", "affirmation", "option_mention");
    ``reason`` says why the response is invalid.
    """

    choice: str | None
    method: str | None
    reason: str | None = None


@dataclass(frozen=True)
class _Options:
    letters: frozenset[str]
    span: str  # "A-D", for reasons
    texts: tuple[tuple[str, str], ...]  # (normalised text, letter), longest text first
    listed: tuple[tuple[str, str], ...]  # (letter, normalised text) in option order
    yes_no: Mapping[str, str]  # "yes"/"no"/"maybe" -> letter, only for yes/no questions


@dataclass(frozen=True)
class _Candidate:
    pos: int
    choice: str | None
    method: str
    reason: str | None = None


_THINK_BLOCK = re.compile(r"<(think|thinking)>.*?</\1\s*>", re.S | re.I)
_THINK_OPEN = re.compile(r"<(think|thinking)>", re.I)
_THINK_CLOSE = re.compile(r"</(?:think|thinking)\s*>", re.I)
_WS = re.compile(r"[ \t\r\f\v\u00a0]+")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})

# A letter in an answer position: "C", "(C)", "[C]", "*C*", "Option C", "either C".
_MARK = re.compile(
    r"[ \t]*(?:(?i:either|option|choice|letter)[ \t]*)?"
    r"(?P<open>[*_]?[(\[]?[*_]?)(?P<letter>[A-Za-z])(?P<close>[*_]?[)\]]?[*_]?)"
    r"(?![\w'-])"
)
_NOT_APPLICABLE = re.compile(r"[ \t]*(?i:n/a|n\.a\.)(?![\w/])")
# Outside an explicit answer phrase a letter must be followed by punctuation or the end.
_PUNCT_AFTER = re.compile(r"[ \t]*(?:$|\n|[.,;:!?)\]])")
_CONFLICT_AFTER = re.compile(
    r"[ \t]*(?:,|/|&|\b(?i:and/or|or|and)\b)[ \t]*(?:(?i:option|choice)[ \t]*)?"
    r"[*_]?[(\[]?[*_]?(?P<letter>[A-Z])[*_]?[)\]]?[*_]?(?![\w'-])"
)
_YES_NO = re.compile(r"[ \t]*(?P<word>yes|no|maybe)(?![\w'-])", re.I)
# Where an option's text may end inside a sentence: "Answer: Pneumonia, because ...".
_TEXT_END = re.compile(r"[ \t]*(?:$|[.;:!?(\n]|,?[ \t]+(?:because|since|as|which|given|due)\b)")
# Words that make a statement someone else's, or hypothetical, within its clause.
_HEDGE = re.compile(
    r"\b(?:might|may|could|colleagues?|others|although|though|while|whereas|if|not|rather"
    r"|instead|unlikely|incorrect)\b|n't\b",
    re.I,
)
_CLAUSE_BREAK = re.compile(r"[,;.!?\n]")

_JSON_START = re.compile(r"\{\s*\"")
_ANSWER_KEYS = frozenset(
    {"answer", "answer_choice", "final_answer", "answer_letter", "correct_answer",
     "answer_option", "choice", "option", "selected_option"}
)
_JSON_KEY_VALUE = re.compile(
    r"\"(?i:answer_choice|answer|final_answer|answer_letter|correct_answer|answer_option)\""
    r"\s*:\s*(?:\"(?P<quoted>(?:[^\"\\\n]|\\.)*)\"?|(?P<bare>[A-Za-z]\b))"
)
_BOXED = re.compile(r"\\boxed\s*\{(?P<body>(?:[^{}]|\{[^{}]*\})*)\}")
_LATEX_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
_ANSWER_PHRASE = re.compile(
    r"(?<!</)\banswer(?:[ \t]+(?:choice|option|letter))?"
    r"(?:[ \t]+(?:to[ \t]+(?:this|the)[ \t]+question|here))?[ \t]*"
    r"(?:(?:is|would[ \t]+be|should[ \t]+be|will[ \t]+be|must[ \t]+be)"
    r"(?:[ \t]+(?:therefore|likely|probably|clearly|definitely|then))?[ \t]*:?"
    r"|[:=>\-\u2013\u2014])\s*",
    re.I,
)
_CHOOSE = re.compile(
    r"\b(?:I|we)(?:'d|'ll|[ \t]+(?:would|will|must|should|shall|can|therefore|then|also))*"
    r"[ \t]+(?:choose|chose|select|selected|pick|picked|go[ \t]+with|opt[ \t]+for)[ \t]+"
    r"(?:(?:option|choice|answer)[ \t]+)?",
    re.I,
)
_THEREFORE = re.compile(r"\b(?:therefore|thus|hence|so)\b,?[ \t]+", re.I)
_IS_CORRECT = re.compile(
    r"(?:(?:^|[.!?;:][ \t]+)[ \t]*|\b(?i:option|choice)[ \t]*)"
    r"[(\[]?(?P<letter>[A-Z])[)\]]?[ \t]+(?i:is|would[ \t]+be|seems[ \t]+to[ \t]+be)[ \t]+"
    r"(?i:the[ \t]+)?(?i:(?:most|more)[ \t]+)?"
    r"(?i:correct|right|best|appropriate|accurate|true|valid)\b",
    re.M,
)
_MOST_LIKELY = re.compile(
    r"\b(?:most[ \t]+(?:likely|appropriate|probable|suitable)|best|correct)\b[^.,;\n]{0,80}?"
    r"\b(?:is|would[ \t]+be)[ \t]*:?\s*",
    re.I,
)
_LINE = re.compile(r"[^\n]+")
_LINE_LEAD = re.compile(r"[ \t]*(?:#+|>+)?[ \t]*")
_BARE_LINE = re.compile(
    r"(?:(?i:option|choice|answer)[ \t]*)?[*_]?[(\[]?[*_]?(?P<letter>[A-Za-z])"
    r"[*_]?[)\]]?[*_]?[ \t]*[.:]?[ \t]*$"
)
_PREFIX_LINE = re.compile(
    r"(?:(?i:option|choice)[ \t]*)?(?P<open>[(\[]?)(?P<letter>[A-Z])"
    r"(?P<sep>[)\]][ \t]*[.:,;-]?|[.:,;]|[ \t]+(?:-|//)|(?=[ \t]+\())[ \t]+(?P<text>\S.*)"
)
_CONFLICT_LINE = re.compile(r"[(\[]?(?P<letter>[A-Z])[)\]]?(?=[ \t]*(?:,|/|&|or\b|and\b))")
_MENTION = re.compile(
    r"\b(?i:option|choice)[ \t]*[(\[]?(?P<letter>[A-Z])[)\]]?(?![\w'-])|\((?P<paren>[A-Z])\)"
)
_LABELED = re.compile(r"(?<![\w'-])(?P<letter>[A-Z])[:)][ \t]+")
_NEGATED_AFTER = re.compile(
    r"[ \t]+(?:is|are|would[ \t]+be|seems)[ \t]+(?:not|less|incorrect|wrong|unlikely|false)\b",
    re.I,
)
_MAX_TAIL = 400


def extract_choice(text: str, options: Mapping[str, str]) -> Extraction:
    """Read the option a response chose.

    Args:
        text: the model's response.
        options: option letter -> option text, in order, e.g. ``{"A": "...", "B": "..."}``;
            for PubMedQA / BioASQ ``{"A": "yes", "B": "no", "C": "maybe"}``.

    Returns:
        An :class:`Extraction`; ``choice`` is ``None`` when the response is invalid.

    Raises:
        ValueError: when ``options`` is empty or a key is not a single letter A-Z.

    Example:
        >>> extract_choice("I first thought A, but the answer is (C).",
        ...                {"A": "Flu", "B": "Cold", "C": "Pneumonia"}).choice
        'C'
    """
    opts = _build_options(options)
    if not text or not text.strip():
        return Extraction(None, None, "empty response")
    body, reason = strip_reasoning(text)
    if reason is not None:
        return Extraction(None, None, reason)
    body = _WS.sub(" ", body.translate(_QUOTES).replace("**", "").replace("__", ""))
    if not body.strip():
        return Extraction(None, None, "no answer after the reasoning block")
    body = _after_echoed_options(body, opts)
    if not body.strip():
        return Extraction(None, None, "no answer after the repeated question")

    for tier in (_explicit_candidates, _lenient_candidates):
        candidates = list(tier(body, opts))
        if candidates:
            last = max(candidates, key=lambda c: c.pos)
            return Extraction(last.choice, last.method, last.reason)
    return _mentioned(body, opts)


def _build_options(options: Mapping[str, str]) -> _Options:
    if not options:
        raise ValueError("options must name at least one option")
    for letter in options:
        if len(letter) != 1 or not ("A" <= letter <= "Z"):
            raise ValueError(f"option keys must be single letters A-Z, got {letter!r}")
    by_text: dict[str, list[str]] = {}
    for letter, option_text in options.items():
        norm = _normalise(option_text)
        if norm:
            by_text.setdefault(norm, []).append(letter)
    # Two options with the same text name no single option, so that text never matches.
    texts = sorted(((t, ls[0]) for t, ls in by_text.items() if len(ls) == 1),
                   key=lambda item: -len(item[0]))
    yes_no = {t: letter for t, letter in texts if t in ("yes", "no", "maybe")}
    if not ("yes" in yes_no and "no" in yes_no):
        yes_no = {}
    letters = sorted(options)
    span = letters[0] if len(letters) == 1 else f"{letters[0]}-{letters[-1]}"
    listed = tuple((letter, _normalise(t)) for letter, t in options.items())
    return _Options(frozenset(letters), span, tuple(texts), listed, yes_no)


def _normalise(text: str) -> str:
    text = _WS.sub(" ", text.translate(_QUOTES).replace("\n", " ")).strip()
    return text.strip("\"'`*_ ").rstrip(". ").lower()


def strip_reasoning(text: str) -> tuple[str, str | None]:
    """`text` without its <think>/<thinking> blocks, and why it is unusable (or None).

    An opened block that never closes leaves nothing to read: ("", reason).
    """
    body = _THINK_BLOCK.sub("\n", text)
    opened = _THINK_OPEN.search(body)
    if opened is not None:
        return "", f"unclosed <{opened.group(1).lower()}> block"
    # A closing tag alone: the chat template opened the block in the prompt (DeepSeek-R1).
    closings = list(_THINK_CLOSE.finditer(body))
    if closings:
        body = body[closings[-1].end():]
    return body, None


def _after_echoed_options(body: str, opts: _Options) -> str:
    """The text after the last line that lists every option and little else ("A: ..., B: ...").

    Such a line is the question repeated (small models echo their prompt), and what comes
    before it, such as a planted "the correct answer is E", is not the model's answer.
    """
    if opts.yes_no or len(opts.listed) < 3 or not all(t for _, t in opts.listed):
        return body
    cut = 0
    # A bare list: its options' texts and little else (not a line discussing each option).
    longest_list = sum(len(t) for _, t in opts.listed) + 8 * len(opts.listed) + 20
    for line in _LINE.finditer(body):
        lowered = _WS.sub(" ", line.group().lower())
        if len(lowered) > longest_list:
            continue
        at = 0
        for letter, text in opts.listed:
            found = lowered.find(text, at)
            if found < 0 or letter.lower() not in lowered[max(at, found - 5):found]:
                break
            at = found + len(text)
        else:
            cut = line.end()
    return body[cut:]


def _hedged(body: str, start: int, end: int, *, whole_clause: bool = False) -> bool:
    """Whether the clause up to body[start:end] (or all of it) hedges the statement there.

    "Colleagues might think option C is correct" and "is not pneumonia (option C)" are not
    answers; "Although X, the answer is C" is, since the concession is its own clause.
    """
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(body, max(0, start - 200),
                                                                 start)), default=0)
    if whole_clause:
        clause_end = _CLAUSE_BREAK.search(body, end)
        end = len(body) if clause_end is None else clause_end.start()
    return _HEDGE.search(body, clause_start, end) is not None


def _read_value(tail: str, opts: _Options, *, loose: bool) -> _Candidate | None:
    """Read the answer that starts ``tail``: a letter, an option's text, or yes/no/maybe.

    ``loose`` is for what follows an explicit answer phrase, where an upper-case letter may
    be followed by more words ("The answer is C because ..."); elsewhere a letter must be
    bracketed or followed by punctuation. The candidate returned has ``pos=0``.
    """
    tail = tail[:_MAX_TAIL]
    mark = None if _NOT_APPLICABLE.match(tail) else _MARK.match(tail)
    if mark is not None:
        letter = mark.group("letter")
        wrapped = any(ch in "()[]*_" for ch in mark.group("open") + mark.group("close"))
        punct_after = _PUNCT_AFTER.match(tail, mark.end()) is not None
        plain_word = letter.islower() or letter == "I"
        if wrapped or (punct_after and (loose or letter.isupper())) or (
            loose and not plain_word
        ):
            return _letter_value(letter.upper(), tail[mark.end():], opts, strict=not loose)
    lowered = tail.lower().lstrip(" \t\n\"'`*_")
    for norm, letter in opts.texts:
        if lowered.startswith(norm) and _TEXT_END.match(lowered, len(norm)) is not None:
            return _Candidate(0, letter, "yes_no" if norm in opts.yes_no else "option_text")
    if opts.yes_no:
        word = _YES_NO.match(lowered)
        if word is not None and (loose or _PUNCT_AFTER.match(lowered, word.end())):
            said = word.group("word").lower()
            choice = opts.yes_no.get(said)
            if choice is None:
                return _Candidate(0, None, "yes_no", f"answer {said!r} is not one of the options")
            return _Candidate(0, choice, "yes_no")
    return None


def _letter_value(letter: str, rest: str, opts: _Options, *, strict: bool) -> _Candidate | None:
    if letter not in opts.letters:
        if strict:
            return None
        return _Candidate(0, None, "letter",
                          f"answer {letter!r} is not one of the options ({opts.span})")
    other = _CONFLICT_AFTER.match(rest)
    if other is not None and other.group("letter") != letter and (
        other.group("letter") in opts.letters
    ):
        return _Candidate(0, None, "letter", f"{CONFLICT}: {letter} or {other.group('letter')}")
    return _Candidate(0, letter, "letter")


def _at(value: _Candidate, pos: int, method: str) -> _Candidate:
    """Place a value read from a tail; lenient rules keep the finer "option_text"/"yes_no"."""
    if value.method in ("option_text", "yes_no") and method not in ("json", "boxed",
                                                                     "answer_line"):
        method = value.method
    return _Candidate(pos, value.choice, method, value.reason)


def _explicit_candidates(body: str, opts: _Options) -> Iterator[_Candidate]:
    yield from _json_candidates(body, opts)
    for match in _BOXED.finditer(body):
        inner = match.group("body")
        while (unwrapped := _LATEX_WRAP.sub(r"\1", inner)) != inner:
            inner = unwrapped
        read = _read_value(inner, opts, loose=True)
        if read is None:
            yield _Candidate(match.end(), None, "boxed",
                             f"boxed answer {inner!r} does not name an option")
        else:
            yield _at(read, match.end(), "boxed")
    for match in _ANSWER_PHRASE.finditer(body):
        read = _read_value(body[match.end():], opts, loose=True)
        if read is not None and not _hedged(body, match.start(), match.end()):
            yield _at(read, match.end(), "answer_line")


def _json_candidates(body: str, opts: _Options) -> list[_Candidate]:
    found: list[_Candidate] = []
    decoder = json.JSONDecoder()
    parsed_until = -1
    for start in _JSON_START.finditer(body):
        if start.start() < parsed_until:
            continue
        try:
            obj, end = decoder.raw_decode(body, start.start())
        except (ValueError, RecursionError):  # not JSON, or absurdly deep
            continue
        parsed_until = end
        value = _answer_in(obj)
        if value is _MISSING:
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        found.append(_json_value(value, end, opts))
    if found:
        return found
    # Malformed JSON (unescaped quotes, a lost opening brace): read the answer key by pattern.
    for match in _JSON_KEY_VALUE.finditer(body):
        quoted = match.group("quoted")
        found.append(_json_value(match.group("bare") if quoted is None else quoted,
                                 match.end(), opts))
    return found


def _json_value(value: object, pos: int, opts: _Options) -> _Candidate:
    read = _read_value(value, opts, loose=True) if isinstance(value, str) else None
    if read is None:
        return _Candidate(pos, None, "json", f"JSON answer {value!r} does not name an option")
    return _at(read, pos, "json")


_MISSING = object()


def _answer_in(obj: object) -> object:
    """The value under an answer key, searching nested objects; ``_MISSING`` if none."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and key.strip().lower() in _ANSWER_KEYS:
                return value
        for value in obj.values():
            nested = _answer_in(value)
            if nested is not _MISSING:
                return nested
    return _MISSING


def _lenient_candidates(body: str, opts: _Options) -> Iterator[_Candidate]:
    yield from _line_candidates(body, opts)
    for match in _IS_CORRECT.finditer(body):
        letter = match.group("letter")
        if letter in opts.letters and not _hedged(body, match.start("letter"), match.end()):
            yield _Candidate(match.start("letter"), letter, "affirmation")
    for pattern, loose in ((_CHOOSE, True), (_THEREFORE, False), (_MOST_LIKELY, False)):
        for match in pattern.finditer(body):
            read = _read_value(body[match.end():], opts, loose=loose)
            if read is not None and not _hedged(body, match.start(), match.end()):
                yield _at(read, match.end(), "affirmation")


def _line_candidates(body: str, opts: _Options) -> list[_Candidate]:
    """Answers given as whole lines.

    A bare letter line counts anywhere. A line that starts with a letter marker or is an
    option's text counts when it opens the response; later ones count only when the
    response does not open with an answer and they name one option, since "A) ... B) ..."
    lines after an answer are its explanation.
    """
    bare: list[_Candidate] = []
    texty: list[tuple[int, _Candidate]] = []  # (index among non-empty lines, candidate)
    index, opens_with_answer = 0, False
    for line in _LINE.finditer(body):
        lead = _LINE_LEAD.match(line.group())
        content = line.group()[lead.end() if lead else 0:].rstrip()
        if not content:
            continue
        found = _line_answer(content, line.start(), opts, first=index == 0)
        if found is not None:
            opens_with_answer = opens_with_answer or index == 0
            if found.method in ("bare_letter", "yes_no") or found.reason is not None:
                bare.append(found)
            else:
                texty.append((index, found))
        index += 1
    listed = len({c.choice for _, c in texty}) > 1
    if texty and texty[0][0] == 0 and not (listed and len(texty) > 1 and texty[1][0] == 1):
        return [*bare, texty[0][1]]
    if opens_with_answer or listed:
        return bare
    return [*bare, *(c for _, c in texty)]


def _line_answer(content: str, pos: int, opts: _Options, *, first: bool) -> _Candidate | None:
    bare = _BARE_LINE.match(content)
    if bare is not None:
        read = _letter_value(bare.group("letter").upper(), "", opts, strict=False)
        return None if read is None else _at(read, pos, "bare_letter")
    prefix = _PREFIX_LINE.match(content)
    if prefix is not None and _prefix_is_answer(prefix, opts):
        letter = prefix.group("letter")
        if letter not in opts.letters:
            return None
        read = _letter_value(letter, content[prefix.start("sep"):], opts, strict=True)
        return None if read is None else _at(read, pos, "letter_prefix")
    two = _CONFLICT_LINE.match(content)
    if two is not None:
        read = _letter_value(two.group("letter"), content[two.end():], opts, strict=True)
        if read is not None and read.reason is not None:
            return _at(read, pos, "letter_prefix")
    norm = _normalise(content)
    for text, letter in opts.texts:
        if norm == text:
            return _Candidate(pos, letter, "yes_no" if text in opts.yes_no else "option_text")
    if first and opts.yes_no:
        read = _read_value(content, opts, loose=False)
        if read is not None and read.method == "yes_no":
            return _at(read, pos, "yes_no")
    return None


def _prefix_is_answer(prefix: re.Match[str], opts: _Options) -> bool:
    """Whether a line starting 'C) text' opens with an answer rather than prose.

    'C. text' with lower case after the full stop reads like prose ("E. coli grows") unless
    the text is option C's; 'C (text)' counts only when the brackets hold option C's text.
    """
    sep, text = prefix.group("sep"), prefix.group("text")
    option_text = next((t for t, letter in opts.texts if letter == prefix.group("letter")),
                       None)
    if not sep.strip():
        return option_text is not None and _normalise(text[1:].split(")", 1)[0]) == option_text
    if not sep.startswith(".") or prefix.group("open"):
        return True
    if text[0].isupper() or text[0].isdigit():
        return True
    return option_text is not None and _normalise(text).startswith(option_text)


def _mentioned(body: str, opts: _Options) -> Extraction:
    mentioned: set[str] = set()
    for match in _MENTION.finditer(body):
        letter = match.group("letter") or match.group("paren")
        if (letter in opts.letters and _NEGATED_AFTER.match(body, match.end()) is None
                and not _hedged(body, match.start(), match.end(), whole_clause=True)):
            mentioned.add(letter)
    texts = dict(opts.listed)
    lowered = body.lower()
    for match in _LABELED.finditer(body):  # "would be A: Previous suicide attempt"
        letter = match.group("letter")
        text = texts.get(letter)
        if (text and lowered.startswith(text, match.end())
                and not _hedged(body, match.start(), match.end(), whole_clause=True)):
            mentioned.add(letter)
    if len(mentioned) == 1:
        return Extraction(mentioned.pop(), "option_mention")
    if mentioned:
        return Extraction(None, None, "several options mentioned, none stated as the answer")
    return Extraction(None, None, "no answer found")
