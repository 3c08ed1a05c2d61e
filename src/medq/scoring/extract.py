"""Answer extraction: a model's response text -> the option letter it chose, or invalid.

The rules, in order of strength (the strongest tier that matches decides; inside a tier the
*last* stated answer wins, so "I first thought A... but the answer is C" gives C):

1. explicit answer statements: a JSON object with an answer key (``{"answer_choice": "C"}``,
   also fenced, nested in prose, or slightly malformed), ``\\boxed{C}``, and "answer"
   phrases ("Answer: C", "The correct answer is (C)", "Final answer: C. Pneumonia");
2. lenient statements: a line that is only a letter ("C", "(C)", "**C**", "Option C"), a
   line that starts with a letter marker ("C) Pneumonia", "C: ...") unless the lines form a
   list of several options, a line that is exactly one option's text, "C is correct",
   "Therefore, C.", "I would choose C", and a response opening with "Yes."/"No."/"Maybe.";
3. mentions: "option C" or "(C)" in prose count only when a single option is mentioned.

Choices are option keys only. A letter stated as the answer that is not an option ("E" on a
four-option question) is invalid with a reason, never skipped in favour of another letter.
Lower-case letters count only where clearly marked ("answer: c", "(c)"), so the article in
"a patient presents" or "A 45-year-old man" is never read as answer A. Two letters with
equal standing in the deciding statement ("A or C") are invalid. ``<think>`` blocks are
removed first; an opening tag without its closing tag is invalid. There is no fuzzy
"most similar option" matching and no default letter: what cannot be read is invalid.

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
    yes_no: Mapping[str, str]  # "yes"/"no"/"maybe" -> letter, only for yes/no questions


@dataclass(frozen=True)
class _Candidate:
    pos: int
    tier: int
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
# What may follow a letter for it to count outside an explicit answer statement.
_NOT_APPLICABLE = re.compile(r"[ \t]*(?i:n/a|n\.a\.)(?![\w/])")
_PUNCT_AFTER = re.compile(r"[ \t]*(?:$|\n|[.,;:!?)\]])")
_CONFLICT_AFTER = re.compile(
    r"[ \t]*(?:,|/|&|\b(?i:and/or|or|and)\b)[ \t]*(?:(?i:option|choice)[ \t]*)?"
    r"[*_]?[(\[]?[*_]?(?P<letter>[A-Z])[*_]?[)\]]?[*_]?(?![\w'-])"
)
_YES_NO = re.compile(r"[ \t]*(?P<word>yes|no|maybe)(?![\w'-])", re.I)
_TEXT_END = re.compile(r"[ \t]*(?:$|[.;:!?(\n]|,?[ \t]+(?:because|since|as|which|given|due)\b)")

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
    r"(?<!not )(?<!n't )\b(?:choose|chose|select|pick|go[ \t]+with)[ \t]+"
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
    r"\b(?:most[ \t]+(?:likely|appropriate|probable|suitable)|best|correct)\b[^.\n]{0,80}?"
    r"\b(?:is|would[ \t]+be)[ \t]*:?\s*",
    re.I,
)
_LINE = re.compile(r"[^\n]+")
_LINE_LEAD = re.compile(r"^[ \t]*(?:#+|>+)?[ \t]*")
_BARE_LINE = re.compile(
    r"(?:(?i:option|choice|answer)[ \t]*)?[*_]?[(\[]?[*_]?(?P<letter>[A-Za-z])"
    r"[*_]?[)\]]?[*_]?[ \t]*[.:]?[ \t]*$"
)
_PREFIX_LINE = re.compile(
    r"(?:(?i:option|choice)[ \t]*)?(?P<open>[(\[]?)(?P<letter>[A-Z])"
    r"(?P<sep>[)\]][ \t]*[.:,-]?|[.:,]|[ \t]+-|(?=[ \t]+\())[ \t]+(?P<text>\S.*)"
)
_CONFLICT_LINE = re.compile(r"[(\[]?(?P<letter>[A-Z])[)\]]?(?=[ \t]*(?:,|/|&|or\b|and\b))")
_MENTION = re.compile(
    r"\b(?i:option|choice)[ \t]*[(\[]?(?P<letter>[A-Z])[)\]]?(?![\w'-])|\((?P<paren>[A-Z])\)"
)
_NEGATED = re.compile(
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

    Example:
        >>> extract_choice("I first thought A, but the answer is (C).", {"A": "x", "B": "y",
        ...                "C": "z"}).choice
        'C'
    """
    opts = _build_options(options)
    if not text or not text.strip():
        return Extraction(None, None, "empty response")
    body, reason = _strip_reasoning(text)
    if reason is not None:
        return Extraction(None, None, reason)
    body = body.translate(_QUOTES).replace("**", "").replace("__", "")
    body = _WS.sub(" ", body)
    if not body.strip():
        return Extraction(None, None, "no answer after the reasoning block")

    explicit = [*_json_candidates(body, opts), *_boxed_candidates(body, opts),
                *_answer_phrase_candidates(body, opts)]
    if explicit:
        return _decide(explicit)
    lenient = [*_line_candidates(body, opts), *_affirmation_candidates(body, opts)]
    if lenient:
        return _decide(lenient)
    return _mention(body, opts)


def _decide(candidates: list[_Candidate]) -> Extraction:
    last = max(candidates, key=lambda c: c.pos)
    return Extraction(last.choice, last.method, last.reason)


def _build_options(options: Mapping[str, str]) -> _Options:
    if not options:
        raise ValueError("options must name at least one option")
    letters = list(options)
    for letter in letters:
        if len(letter) != 1 or not ("A" <= letter <= "Z"):
            raise ValueError(f"option keys must be single letters A-Z, got {letter!r}")
    normalised: dict[str, list[str]] = {}
    for letter, option_text in options.items():
        norm = _normalise(option_text)
        if norm:
            normalised.setdefault(norm, []).append(letter)
    # Duplicate option texts name no single option, so they never match.
    texts = sorted(((t, ls[0]) for t, ls in normalised.items() if len(ls) == 1),
                   key=lambda item: -len(item[0]))
    yes_no = {t: ls[0] for t, ls in normalised.items()
              if t in ("yes", "no", "maybe") and len(ls) == 1}
    if not ("yes" in yes_no and "no" in yes_no):
        yes_no = {}
    span = letters[0] if len(letters) == 1 else f"{min(letters)}-{max(letters)}"
    return _Options(frozenset(letters), span, tuple(texts), yes_no)


def _normalise(text: str) -> str:
    text = _WS.sub(" ", text.translate(_QUOTES).replace("\n", " ")).strip()
    text = text.strip("\"'`*_ ").rstrip(". ").lower()
    return text


def _strip_reasoning(text: str) -> tuple[str, str | None]:
    body = _THINK_BLOCK.sub("\n", text)
    opened = _THINK_OPEN.search(body)
    if opened is not None:
        return "", f"unclosed <{opened.group(1).lower()}> block"
    # A closing tag alone: the chat template opened the block in the prompt (DeepSeek-R1).
    closings = list(_THINK_CLOSE.finditer(body))
    if closings:
        body = body[closings[-1].end():]
    return body, None


def _read_value(tail: str, opts: _Options, *, loose: bool) -> _Candidate | None:
    """Read the answer that starts ``tail``: a letter, an option's text, or yes/no/maybe.

    ``loose`` is for text after an explicit answer phrase, where an upper-case letter may
    be followed by more words ("The answer is C because ..."); elsewhere a letter must be
    wrapped or followed by punctuation. Returns a candidate with ``pos=0, tier=0``.
    """
    tail = tail[:_MAX_TAIL]
    mark = None if _NOT_APPLICABLE.match(tail) else _MARK.match(tail)
    if mark is not None:
        letter = mark.group("letter")
        wrapped = any(ch in "()[]*_" for ch in mark.group("open") + mark.group("close"))
        punct_after = _PUNCT_AFTER.match(tail, mark.end()) is not None
        plain_word = letter.islower() or letter == "I"
        if wrapped or punct_after or (loose and not plain_word):
            return _letter_value(letter.upper(), tail[mark.end():], opts, strict=not loose)
    lowered = tail.lower().lstrip(" \t\n\"'`*_")
    for norm, letter in opts.texts:
        if lowered.startswith(norm) and _TEXT_END.match(lowered, len(norm)) is not None:
            return _Candidate(0, 0, letter, "option_text")
    if opts.yes_no:
        word = _YES_NO.match(lowered)
        if word is not None and (loose or _PUNCT_AFTER.match(lowered, word.end())):
            choice = opts.yes_no.get(word.group("word").lower())
            if choice is None:
                return _Candidate(0, 0, None, "yes_no",
                                  f"answer {word.group('word')!r} is not one of the options")
            return _Candidate(0, 0, choice, "yes_no")
    return None


def _letter_value(letter: str, rest: str, opts: _Options, *, strict: bool) -> _Candidate | None:
    if letter not in opts.letters:
        if strict:
            return None
        return _Candidate(0, 0, None, "letter",
                          f"answer {letter!r} is not one of the options ({opts.span})")
    other = _CONFLICT_AFTER.match(rest)
    if other is not None and other.group("letter") != letter and (
        other.group("letter") in opts.letters
    ):
        return _Candidate(0, 0, None, "letter",
                          f"{CONFLICT}: {letter} or {other.group('letter')}")
    return _Candidate(0, 0, letter, "letter")


def _at(value: _Candidate, pos: int, tier: int, method: str) -> _Candidate:
    keep = value.method if value.method in ("option_text", "yes_no") and method in (
        "bare_letter", "letter_prefix", "affirmation") else method
    return _Candidate(pos, tier, value.choice, keep, value.reason)


def _json_candidates(body: str, opts: _Options) -> list[_Candidate]:
    found: list[_Candidate] = []
    decoder = json.JSONDecoder()
    parsed_until = -1
    for start in _JSON_START.finditer(body):
        if start.start() < parsed_until:
            continue
        try:
            obj, end = decoder.raw_decode(body, start.start())
        except ValueError:
            continue
        parsed_until = end
        value = _answer_in(obj)
        if value is _MISSING:
            continue
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        read = _read_value(value, opts, loose=True) if isinstance(value, str) else None
        if read is None:
            found.append(_Candidate(end, 1, None, "json",
                                    f"JSON answer {value!r} does not name an option"))
        else:
            found.append(_at(read, end, 1, "json"))
    if found:
        return found
    # Malformed JSON (unescaped quotes, a lost opening): read the answer key by pattern.
    for match in _JSON_KEY_VALUE.finditer(body):
        raw = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
        read = _read_value(raw, opts, loose=True)
        if read is None:
            found.append(_Candidate(match.end(), 1, None, "json",
                                    f"JSON answer {raw!r} does not name an option"))
        else:
            found.append(_at(read, match.end(), 1, "json"))
    return found


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


def _boxed_candidates(body: str, opts: _Options) -> Iterator[_Candidate]:
    for match in _BOXED.finditer(body):
        inner = match.group("body")
        while True:
            unwrapped = _LATEX_WRAP.sub(r"\1", inner)
            if unwrapped == inner:
                break
            inner = unwrapped
        read = _read_value(inner, opts, loose=True)
        if read is None:
            yield _Candidate(match.end(), 1, None, "boxed",
                             f"boxed answer {inner!r} does not name an option")
        else:
            yield _at(read, match.end(), 1, "boxed")


def _answer_phrase_candidates(body: str, opts: _Options) -> Iterator[_Candidate]:
    for match in _ANSWER_PHRASE.finditer(body):
        read = _read_value(body[match.end():], opts, loose=True)
        if read is not None:
            yield _at(read, match.end(), 1, "answer_line")


def _line_candidates(body: str, opts: _Options) -> list[_Candidate]:
    bare: list[_Candidate] = []
    texty: list[_Candidate] = []  # "C) text" lines and option-text lines
    first_line, second_line = -1, -1
    for line in _LINE.finditer(body):
        lead = _LINE_LEAD.match(line.group())
        content = line.group()[lead.end() if lead else 0:].rstrip()
        if not content:
            continue
        if first_line < 0:
            first_line = line.start()
        elif second_line < 0:
            second_line = line.start()
        pos = line.start()
        bare_match = _BARE_LINE.match(content)
        if bare_match is not None:
            read = _letter_value(bare_match.group("letter").upper(), "", opts, strict=False)
            if read is not None:
                bare.append(_at(read, pos, 2, "bare_letter"))
            continue
        prefix = _PREFIX_LINE.match(content)
        if prefix is not None and _prefix_is_answer(prefix, opts):
            letter = prefix.group("letter")
            conflict = _CONFLICT_AFTER.match(content, prefix.start("sep"))
            if letter in opts.letters and conflict is None:
                texty.append(_Candidate(pos, 2, letter, "letter_prefix"))
            continue
        two = _CONFLICT_LINE.match(content)
        if two is not None:
            read = _letter_value(two.group("letter"), content[two.end():], opts, strict=True)
            if read is not None and read.reason is not None:
                bare.append(_at(read, pos, 2, "letter_prefix"))
                continue
        for norm, letter in opts.texts:
            if _normalise(content) == norm:
                texty.append(_Candidate(pos, 2, letter, "option_text"))
                break
        else:
            if opts.yes_no and pos == first_line:
                read = _read_value(content, opts, loose=False)
                if read is not None and read.method == "yes_no":
                    bare.append(_at(read, pos, 2, "yes_no"))
    if len({c.choice for c in texty}) > 1:
        # Several options listed line by line: only an answer given first, before the
        # list or explanation starts, still counts.
        heads = [c for c in texty if c.pos == first_line]
        seconds = [c for c in texty if c.pos == second_line]
        texty = heads if heads and not seconds else []
    return bare + texty


def _prefix_is_answer(prefix: re.Match[str], opts: _Options) -> bool:
    """Whether 'C) text' opens with an answer rather than prose.

    'C. text' with lower case after the full stop reads like prose ("E. coli grows") unless
    the text is option C's; 'C (text)' counts only when the brackets hold option C's text.
    """
    sep, text = prefix.group("sep"), prefix.group("text")
    option_text = next((norm for norm, letter in opts.texts
                        if letter == prefix.group("letter")), None)
    if not sep.strip():
        inner = text[1:].split(")", 1)[0]
        return option_text is not None and _normalise(inner) == option_text
    if not sep.startswith(".") or prefix.group("open"):
        return True
    if text[0].isupper() or text[0].isdigit():
        return True
    return option_text is not None and _normalise(text).startswith(option_text)


def _affirmation_candidates(body: str, opts: _Options) -> Iterator[_Candidate]:
    for match in _IS_CORRECT.finditer(body):
        letter = match.group("letter")
        if letter in opts.letters:
            yield _Candidate(match.start("letter"), 2, letter, "affirmation")
    for pattern, loose in ((_CHOOSE, True), (_THEREFORE, False), (_MOST_LIKELY, False)):
        for match in pattern.finditer(body):
            read = _read_value(body[match.end():], opts, loose=loose)
            if read is not None:
                yield _at(read, match.end(), 2, "affirmation")


def _mention(body: str, opts: _Options) -> Extraction:
    mentioned: set[str] = set()
    for match in _MENTION.finditer(body):
        letter = match.group("letter") or match.group("paren")
        if letter in opts.letters and _NEGATED.match(body, match.end()) is None:
            mentioned.add(letter)
    if len(mentioned) == 1:
        return Extraction(mentioned.pop(), "option_mention")
    if mentioned:
        return Extraction(None, None, "several options mentioned, none stated as the answer")
    return Extraction(None, None, "no answer found")
