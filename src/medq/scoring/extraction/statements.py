"""Answer statements: the places where a response states, denies or withdraws an answer.

`Grammar.scan` reads a prepared response into `Statement`s: JSON answer keys,
``\\boxed{}``, answer phrases ("The correct answer is", "La respuesta es", "答案："),
first-person and copular forms ("I choose", "it's", "C is correct", "Cが正解"),
"Therefore, C.", denials ("it is not C"), retractions ("wait, no") and corrections
("Actually, D."). Whole-line answers ("C", "C) text") are read in `lines`. What each
statement does to the answer is decided in `commitment`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from medq.scoring.extraction.labels import Options, build_options
from medq.scoring.extraction.lexicon import Lexicon, phrase_regex, phrase_tries
from medq.scoring.extraction.text import fold
from medq.scoring.extraction.values import LOOSE, MEDIUM, STRICT, Reader, Value

__all__ = ["EXPLICIT", "LENIENT", "Grammar", "Statement", "grammar"]

EXPLICIT, LENIENT = 2, 1


@dataclass(frozen=True)
class Statement:
    """One statement about the answer.

    ``kind``: "answer" (states a value), "denial" ("not C", "the answer is not C"),
    "weak_denial" ("C is wrong": a review of C unless the sentence corrects itself),
    "retraction" ("wait, no"), "correction" (a marker such as "actually" with no value of
    its own). ``rank``: explicit
    forms (JSON, boxed, answer phrases) outrank lenient ones. ``pos`` orders statements
    (where the value stands); ``start``/``end`` span the statement's words.
    """

    kind: str
    pos: int
    start: int
    end: int
    rank: int
    method: str
    value: Value | None = None
    correction: bool = False
    structured: bool = False  # JSON, boxed, a whole answer line: not read for hedges


_JSON_START = re.compile(r"\{\s*\"")
_ANSWER_KEYS = frozenset({
    "answer", "answer_choice", "final_answer", "answer_letter", "correct_answer",
    "answer_option", "choice", "option", "selected_option", "answers", "selected_options",
    "correct_answers", "respuesta", "réponse", "reponse", "risposta", "resposta", "antwort",
    "odpowiedź", "odpowiedz", "答案", "正解", "정답",
})
_JSON_KEY_VALUE = re.compile(
    r"\"(?i:answer_choice|answer|final_answer|answer_letter|correct_answer|answer_option)\""
    r"\s*:\s*(?:\"(?P<quoted>(?:[^\"\\\n]|\\.)*)\"?|(?P<bare>[A-Za-z]\b))"
)
_BOXED = re.compile(r"\\boxed\s*\{(?P<body>(?:[^{}]|\{[^{}]*\})*)\}")
_LATEX_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
_MISSING = object()
_SKIP_PUNCT = re.compile(r"[ \t,:;\-]*")
_RETRACTION_END = re.compile(r"[ \t]*(?:$|[\n.,;:!?)\-])|(?<=[,.:;!])")


class Patterns:
    """The compiled statement patterns for one label token and lexicon.

    The trigger is compiled at once; every other pattern when first used (most responses
    use few of them: a run of ``Answer: C`` replies needs four of the thirteen), so a
    run's first answer does not compile them all (issue 19)."""

    def __init__(self, token: str, lex: Lexicon) -> None:
        self.token, self.lex = token, lex
        # One pass finds every trigger: answer phrases (a noun and a copula or colon), and
        # one shared trie of all other phrases, whose group is looked up from the words
        # matched (Python's re tries alternatives one by one, so one trie is much faster
        # than a group per kind).
        # "is", "is:", ":", "=", " - ", ">" (<answer>), "]" ([答案]C); an aside may come
        # between ("the answer, however, is C").
        aside = r"(?:\s*,\s*[^\W\d_]+\s*,)?"
        cont = (rf"(?:{aside}\s*{self._alt('answer.negative_copulas')}|(?:\s*\(s\))?(?:{aside}\s*"
                rf"{self._alt('answer.copulas')}(?:[ \t]*:)?|\s*[:=]|\s+-(?=\s)|\s*[>\]]))")
        self.negative_tail = re.compile(self._alt("answer.negative_copulas") + r"\Z")
        self.groups: dict[str, str] = {}
        phrases: list[str] = []
        for group, field in (
            ("answer", "answer.phrases"), ("retract", "markers.retraction"),
            ("choose", "statement.choose"), ("copula", "statement.copula"),
            ("after_neg", "statement.after_label_negative"),
            ("after", "statement.after_label"), ("likely", "statement.likely"),
            ("therefore", "statement.therefore"), ("correct", "markers.correction"),
            ("neglead", "markers.negation_lead"),
        ):
            for phrase in lex[field]:
                phrases.append(phrase)
                self.groups.setdefault(" ".join(phrase.lstrip("~").split()), group)
        # One pass finds every trigger: an answer noun with its copula or colon, or any
        # other phrase (its kind looked up from the words matched). One word-start check
        # leads all word-bounded phrases, and CJK ones sit behind one character class, so
        # most positions fail at once (Python's re tries alternatives one by one).
        nouns_b, nouns_f = phrase_tries(lex["answer.nouns"])
        other_b, other_f = phrase_tries(phrases)
        bounded = [f"{nouns_b}{cont}" if nouns_b else None, other_b]
        free = [f"{nouns_f}{cont}" if nouns_f else None, other_f]
        parts = []
        if any(bounded):
            parts.append(r"(?<!\w)(?<!</)(?:" + "|".join(b for b in bounded if b) + ")")
        if any(free):
            parts.append(r"(?=[^\x00-\x7f])(?:" + "|".join(f for f in free if f) + ")")
        self.trigger = re.compile("|".join(parts))
        self.no_words = frozenset(w.strip(",.") for w in lex["polarity.no"])
        self.filler_words = frozenset(lex["statement.fillers"])

    def _alt(self, *fields: str) -> str:
        return phrase_regex(p for f in fields for p in self.lex[f])

    @cached_property
    def _words(self) -> str:
        return self._alt("statement.option_words")

    @cached_property
    def _conj(self) -> str:
        return self._alt("statement.conjunctions")

    @cached_property
    def likely_tail(self) -> re.Pattern[str]:
        return re.compile(
            r"[^.,;\n]{0,80}?" + self._alt("statement.likely_copulas") + r"[ \t]*:?[ \t]*")

    @cached_property
    def label_before(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?:(?P<ow>(?i:{self._words})[ \t]*)?(?P<open>[(\[][ \t]*)?(?P<lab>{self.token})"
            r"(?P<close>[ \t]*[)\]])?|(?P<glued>(?i:option|choice))(?P<gl>[A-Z]))[ \t]*\Z")

    @cached_property
    def list_before(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?P<lab>{self.token})[)\]]?(?:[ \t]*(?:,|/|(?i:{self._conj}))|[ \t][&+])[ \t]*"
            rf"(?:(?i:{self._words})[ \t]*)?[(\[]?[ \t]*\Z")

    @cached_property
    def denied_after(self) -> re.Pattern[str]:
        """A denial that follows its value (Japanese "答えはCではありません")."""
        return re.compile(r"[ \t]*" + self._alt("statement.after_label_negative"))

    @cached_property
    def judged(self) -> re.Pattern[str]:
        return re.compile(self._alt("statement.after_label_negative"))

    @cached_property
    def lead_in(self) -> re.Pattern[str]:
        return re.compile(self._alt("statement.lead_ins", "statement.therefore") + r"[ \t,]*\Z")

    # Whole lines (see `lines`) and mentions in passing.
    @cached_property
    def line_bare(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?:(?i:{self._words})[ \t]*:?[ \t]*)?[*_]?[(\[]?[*_]?(?P<lab>{self.token})[*_]?"
            r"[)\]]?[*_]?[ \t]*[.:!]*[ \t]*$")

    @cached_property
    def line_prefix(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?:(?i:{self._words})[ \t]*)?(?P<open>[(\[]?)(?P<lab>{self.token})"
            r"(?P<sep>[)\]][ \t]*[.:,;-]?|[.:,;\-]+|[ \t]+(?:-|//)|(?=[ \t]+\())"
            r"(?:[ \t]+|(?<=[.:])(?=[A-Z]|[^\x00-\x7f]))(?P<text>\S.*)")

    @cached_property
    def line_listed(self) -> re.Pattern[str]:
        return re.compile(
            rf"[(\[]?(?P<lab>{self.token})[)\]]?(?=[ \t]*(?:,|/|&|(?i:{self._conj})))")

    @cached_property
    def mention(self) -> re.Pattern[str]:
        mention = self._alt("statement.mention_words")
        return re.compile(
            rf"(?i:{mention})[ \t]*[(\[]?(?P<lab>{self.token})[)\]]?(?![\w']|-[a-z])"
            rf"|\((?P<paren>{self.token})\)")

    @cached_property
    def labeled(self) -> re.Pattern[str]:
        return re.compile(rf"(?<![\w'-])(?P<lab>{self.token})[:)][ \t]+")


@lru_cache(maxsize=256)
def patterns(token: str, lex: Lexicon) -> Patterns:
    """The statement patterns for a label token (shared by every question labelled alike)."""
    return Patterns(token, lex)


class Grammar:
    """One question's options, with the patterns and value reader for its languages."""

    def __init__(self, opts: Options, lex: Lexicon) -> None:
        self.opts, self.lex = opts, lex
        self.reader = Reader(opts, lex)
        self.p = patterns(opts.token, lex)

    # -- scanning --------------------------------------------------------------------------

    def scan(self, prose: str, low: str, raw: str, start: int = 0, end: int | None = None,
             *, multi: bool = False) -> list[Statement]:
        """The statements of a response between `start` and `end`; `multi` reads letter
        runs ("BCD") of multiple-answer tasks."""
        end = len(low) if end is None else end
        found = _json_statements(raw, start, end, self, multi)
        found += _boxed_statements(raw, start, end, self)
        reader = self.reader
        fillers = self.p.filler_words

        def read(prose: str, low: str, pos: int, mode: int, **kw: bool) -> Value | None:
            value = reader.read(prose, low, pos, mode, multi=multi, **kw)
            if value is None:
                # A phrase ending in an article ("é a") may have swallowed a label ("é A
                # ou C"): read again from that last word.
                back = low.rfind(" ", max(0, pos - 6), pos - 1) + 1
                if 0 < back < pos and low[back:pos].strip() in fillers:
                    value = reader.read(prose, low, back, mode, multi=multi, **kw)
            return value

        groups = self.p.groups
        for m in self.p.trigger.finditer(low, start, end):
            s, e = m.start(), m.end()
            said = m.group()
            group = groups.get(" ".join(said.split()))
            if group is None:
                group = groups.get("".join(said.split()))
            if group is None:
                group = "answer_neg" if self.p.negative_tail.search(said) else "answer"
            if group == "answer":
                value = read(prose, low, e, LOOSE)
                if value is not None:
                    found.append(_stated(value, s, EXPLICIT, "answer_line",
                                         denied=self._denied(low, value)))
            elif group == "answer_neg":
                value = read(prose, low, e, LOOSE, allow_out_of_range=False)
                if value is not None and value.keys:
                    found.append(Statement("denial", value.start, s, value.end, EXPLICIT,
                                           "answer_line", value))
            elif group in ("choose", "copula"):
                value = read(prose, low, e, LOOSE if group == "choose" else MEDIUM)
                if value is not None:
                    found.append(_stated(value, s, LENIENT, "affirmation",
                                         denied=self._denied(low, value)))
            elif group == "therefore":
                if not low.startswith((",", " ", "\t", ", ", ",\t"), e):
                    continue
                value = read(prose, low, e + (low[e] == ","), STRICT)
                if value is not None:
                    found.append(_stated(value, s, LENIENT, "affirmation"))
            elif group == "likely":
                tail = self.p.likely_tail.match(low, e)
                if tail is not None:
                    value = read(prose, low, tail.end(), STRICT)
                    if value is not None:
                        found.append(_stated(value, s, LENIENT, "affirmation"))
            elif group in ("after", "after_neg"):
                before = self._label_before(prose, low, s)
                if before is not None:
                    kind = "weak_denial" if group == "after_neg" else "answer"
                    if kind == "weak_denial" and before.reason is not None:
                        continue
                    found.append(Statement(kind, before.start, before.start, e, LENIENT,
                                           "affirmation", before))
            elif group == "retract":
                if not (_clause_opens(low, s) and _RETRACTION_END.match(low, e)):
                    continue  # "there is actually no difference" is not a retraction
                found.append(Statement("retraction", s, s, e, LENIENT, "retraction"))
                said_no = self.opts.polarity.get("no")
                if said_no is not None and low[s:e].split()[-1] in self.p.no_words:
                    # On a yes/no question "Actually, no." withdraws "yes" by answering no.
                    found.append(Statement("answer", s, s, e, LENIENT, "yes_no",
                                           Value((said_no,), s, e, "yes_no"), correction=True))
                    continue
                skipped = _SKIP_PUNCT.match(low, e)
                after = skipped.end() if skipped is not None else e
                value = read(prose, low, after, STRICT)
                if value is not None and value.reason is None and not value.negated:
                    found.append(_stated(value, after, LENIENT, "affirmation",
                                         correction=True))
            elif group == "correct":
                after = e + (e < len(low) and low[e] in ",:")
                value = read(prose, low, after, STRICT)
                if value is not None and value.reason is None:
                    found.append(_stated(value, s, LENIENT, "affirmation", correction=True))
                else:
                    found.append(Statement("correction", s, s, e, LENIENT, "correction"))
            elif group == "neglead" and low.startswith((" ", "\t"), e) and _clause_opens(
                    low, s, ".!?;:(\n-"):
                # "Not C." denies C; "E, not D" only contrasts.
                value = read(prose, low, e, STRICT, allow_out_of_range=False)
                if value is not None and value.keys:
                    found.append(Statement("denial", value.start, s, value.end, LENIENT,
                                           "affirmation", value))
        return found

    def _denied(self, low: str, value: Value) -> bool:
        return bool(value.keys) and self.p.denied_after.match(low, value.end) is not None

    def _label_before(self, prose: str, low: str, at: int) -> Value | None:
        """The label a postfix phrase ("is correct", "가 정답") is about, if it opens a
        clause or follows a lead-in ("so", "I think")."""
        window_start = max(0, at - 40)
        m = self.p.label_before.search(prose, window_start, at)
        if m is None:
            return None
        token = m.group("lab") or m.group("gl")
        opts = self.opts
        marked = bool(m.group("ow") or m.group("open") or m.group("close") or m.group("gl"))
        if opts.weak(token) and not marked:
            return None
        start = m.start()
        keys = [opts.key(token)]
        while (more := self.p.list_before.search(prose, max(0, start - 40), start)) is not None:
            keys.insert(0, opts.key(more.group("lab")))
            start = more.start()
        if not (m.group("ow") or m.group("glued") or self._opens(prose, low, start)):
            return None
        if None in keys:
            if len(keys) == 1:
                return None  # a letter that is not an option, in prose ("Vitamin K is")
            keys = [k for k in keys if k is not None]
        if len(set(keys)) > 1:
            chosen = tuple(dict.fromkeys(k for k in keys if k is not None))
            return Value(chosen, start, at, "letter", "several_answers",
                         f"several answers at once: {', '.join(chosen)}")
        return Value((keys[0],), start, at, "letter")  # type: ignore[arg-type]

    def _opens(self, prose: str, low: str, start: int) -> bool:
        before = prose[max(0, start - 60):start].rstrip(" \t")
        if not before or before[-1] in ".!?;:,(\n-\"'>":
            return True
        if not before[-1].isascii() and not before[-1].isalnum():
            return True
        return self.p.lead_in.search(low, max(0, start - 60), start) is not None


def _stated(value: Value, start: int, rank: int, method: str, *,
            correction: bool = False, denied: bool = False) -> Statement:
    if value.negated or denied:
        return Statement("denial", value.start, start, value.end, rank, method, value)
    if method != "answer_line" and value.kind in ("text", "yes_no", "number"):
        method = "yes_no" if value.kind == "yes_no" else "option_text"
    return Statement("answer", value.start, start, value.end, rank, method, value,
                     correction=correction)


def _clause_opens(low: str, at: int, marks: str = ".!?;:,(\n-") -> bool:
    before = low[max(0, at - 8):at].rstrip(" \t")
    return not before or before[-1] in marks


@lru_cache(maxsize=4096)
def grammar(items: tuple[tuple[str, str], ...], lex: Lexicon) -> Grammar:
    """The grammar for one question's options (cached: a benchmark repeats them)."""
    return Grammar(build_options(items, lex), lex)


# -- JSON and \boxed --------------------------------------------------------------------


def _json_statements(raw: str, start: int, end: int, g: Grammar,
                     multi: bool) -> list[Statement]:
    found: list[Statement] = []
    if '"' not in raw:
        return found
    decoder = json.JSONDecoder(strict=False)
    parsed_until = -1
    for opening in _JSON_START.finditer(raw, start, end):
        if opening.start() < parsed_until:
            continue
        try:
            obj, stop = decoder.raw_decode(raw, opening.start())
        except (ValueError, RecursionError):  # not JSON, or absurdly deep
            continue
        parsed_until = stop
        value = _answer_in(obj)
        if value is _MISSING:
            continue
        found.append(_json_value(value, opening.start(), stop, g, multi))
    if found:
        return found
    # Malformed JSON (unescaped quotes, a lost opening brace): read the answer key by pattern.
    for match in _JSON_KEY_VALUE.finditer(raw, start, end):
        quoted = match.group("quoted")
        found.append(_json_value(match.group("bare") if quoted is None else quoted,
                                 match.start(), match.end(), g, multi))
    return found


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


def _json_value(value: object, start: int, end: int, g: Grammar, multi: bool) -> Statement:
    if isinstance(value, list):
        parts = [_read_string(str(v), g, multi) if isinstance(v, (str, int)) else None
                 for v in value]
        if len(parts) == 1:
            read = parts[0]
        elif parts and all(p is not None and p.reason is None for p in parts):
            keys = tuple(dict.fromkeys(k for p in parts for k in p.keys))  # type: ignore[union-attr]
            read = Value(keys, 0, 0, "letter", "several_answers" if len(keys) > 1 else None,
                         f"several answers at once: {', '.join(keys)}" if len(keys) > 1
                         else None)
        else:
            read = None
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        read = _read_string(str(value), g, multi)
    else:
        read = None
    if read is None:
        read = Value((), 0, 0, "text", "no_answer",
                     f"JSON answer {value!r} does not name an option")
    return Statement("answer", end, start, end, EXPLICIT, "json",
                     Value(read.keys, start, end, read.kind, read.reason, read.detail),
                     structured=True)


def _read_string(text: str, g: Grammar, multi: bool = False) -> Value | None:
    """The value of a JSON answer or \\boxed{} body: the string itself ("C", "C. text",
    "yes"), or else the answer it states ("The answer is C")."""
    folded = fold(text)
    low = folded.lower()
    value = g.reader.read(folded, low, 0, LOOSE, multi=multi)
    if value is None and len(folded) < 400 and "{" not in folded:
        stated = [st for st in g.scan(folded, low, folded, multi=multi)
                  if st.kind == "answer" and st.value is not None]
        value = stated[-1].value if stated else None
    return value


def _boxed_statements(raw: str, start: int, end: int, g: Grammar) -> list[Statement]:
    found: list[Statement] = []
    if "\\boxed" not in raw:
        return found
    for match in _BOXED.finditer(raw, start, end):
        inner = match.group("body")
        while (unwrapped := _LATEX_WRAP.sub(r"\1", inner)) != inner:
            inner = unwrapped
        read = _read_string(inner, g)
        if read is None:
            read = Value((), 0, 0, "text", "no_answer",
                         f"boxed answer {inner!r} does not name an option")
        value = Value(read.keys, match.start(), match.end(), read.kind, read.reason,
                      read.detail)
        found.append(Statement("answer", match.end(), match.start(), match.end(), EXPLICIT,
                               "boxed", value, structured=True))
    return found
