"""The value of an answer statement: which option the words at a position name.

A value is a label ("C", "(c)", "option 3", "la C"), an option's text ("pulmonary
embolism", "9/10 (90%)"), a yes/no/maybe word, or a number equal to one option's. How
much marking a bare label needs depends on what introduced it: after "The answer is"
(`LOOSE`) an upper-case letter may run on into words; after "it's" (`MEDIUM`) it must end
there or go on with "because" or its own text; after "Therefore," (`STRICT`) it must be
bracketed or end there. A letter whose attached text is another option's is a conflict;
several labels joined by "and"/"or"/"," are several answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

from medq.scoring.extraction.labels import UNITS, Options, number_value
from medq.scoring.extraction.lexicon import Lexicon, phrase_regex

__all__ = ["LOOSE", "MEDIUM", "STRICT", "Reader", "Value"]

LOOSE, MEDIUM, STRICT = 0, 1, 2

_CJK = r"\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
_END = re.compile(rf"[ \t]*(?:$|[\n.,;:!?)\]\"'*</]|-(?:\s|$)|[{_CJK}])")
_PROSE_DOT = re.compile(r"[ \t]*\.[ \t]+(?=[a-z])")
_WS = re.compile(r"\s*")
_SPACES = re.compile(r"[ \t]*")
_QUOTES = re.compile(r"[\"'<\u2018\u201c]+[ \t]*")
_NA = re.compile(r"(?:n/a|n\.a\.)(?![\w/])")
_SEPARATOR = re.compile(r"[ \t]*(?:[.):,\-]+[ \t]*|\([ \t]*|[ \t]+)")
_BRACKET = re.compile(r"\([ \t]*")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?(?:\s*/\s*\d+)?\s*%?(?![\w.]\w)")


@dataclass(frozen=True)
class Value:
    """What a statement names: option ``keys`` (several for a list), where it lies in the
    text, its ``kind`` ("letter", "text", "yes_no", "number"), and for an unusable value
    the invalid ``reason`` code with a ``detail``. ``negated``: "not C"; ``listed``:
    several labels each followed by its option's text."""

    keys: tuple[str, ...]
    start: int
    end: int
    kind: str
    reason: str | None = None
    detail: str | None = None
    negated: bool = False
    listed: bool = False  # several labels, each with its option's text ("A: x, B: y")


class ValuePatterns:
    """The regular expressions of value reading for one label token and lexicon, each
    compiled when first used (a plain ``C`` needs three of the nine: issue 19)."""

    def __init__(self, token: str, lex: Lexicon) -> None:
        self.token, self.lex = token, lex

    @cached_property
    def _words(self) -> str:
        return phrase_regex(self.lex["statement.option_words"])

    @cached_property
    def label(self) -> re.Pattern[str]:
        return re.compile(
            rf"(?P<ow>(?i:{self._words})[ \t]*)?(?P<open>[(\[][ \t]*)?(?P<lab>{self.token})"
            r"(?P<close>[ \t]*[)\]])?")

    @cached_property
    def more(self) -> re.Pattern[str]:
        conj = phrase_regex(self.lex["statement.conjunctions"])
        articles = phrase_regex(self.lex["statement.fillers"])
        words, token = self._words, self.token
        return re.compile(
            rf"[ \t]*(?:,[ \t]*(?:(?i:{conj})[ \t]+)?|/|[ \t][&+][ \t]|[ \t](?i:{conj})[ \t]+|"
            rf"(?i:{conj}))[ \t]*(?:(?i:{articles})[ \t]+)?(?:(?i:{words})[ \t]*)?"
            rf"(?P<open>[(\[])?(?P<lab>{token})(?P<close>[)\]])?"
        )

    @cached_property
    def run(self) -> re.Pattern[str]:
        return re.compile(r"(?P<run>[A-Z]{2,6})(?![A-Za-z0-9])")

    @cached_property
    def skip(self) -> re.Pattern[str]:
        lex = self.lex
        return re.compile(
            "(?:" + phrase_regex(lex["statement.fillers"] + lex["statement.option_words"])
            + r"[ \t]*)+"
        )

    @cached_property
    def because(self) -> re.Pattern[str]:
        return re.compile(r"[ \t]*,?[ \t]+" + phrase_regex(self.lex["statement.because"])
                          + r"|[ \t]+-[ \t]")

    @cached_property
    def negation(self) -> re.Pattern[str]:
        return re.compile(phrase_regex(self.lex["markers.negation_lead"]) + r"[ \t]+")

    @cached_property
    def units(self) -> re.Pattern[str]:
        return re.compile(r"[ \t]*" + UNITS)

    @cached_property
    def text_label(self) -> re.Pattern[str]:
        return re.compile(rf"[ \t]*[(\[][ \t]*(?:(?i:{self._words})[ \t]*)?"
                          rf"(?P<lab>{self.token})[ \t]*[)\]]")

    @cached_property
    def polarity(self) -> re.Pattern[str]:
        return re.compile("|".join(
            f"(?P<{p}>{phrase_regex(self.lex[f'polarity.{p}'])})" for p in ("yes", "no", "maybe")
        ))


@lru_cache(maxsize=256)
def value_patterns(token: str, lex: Lexicon) -> ValuePatterns:
    """The value patterns for a label token (shared by every question labelled alike)."""
    return ValuePatterns(token, lex)


class Reader:
    """Reads values for one question's options in one set of languages."""

    def __init__(self, opts: Options, lex: Lexicon) -> None:
        self.opts = opts
        self.p = value_patterns(opts.token, lex)

    # -- the reader ------------------------------------------------------------------------

    def read(self, prose: str, low: str, pos: int, mode: int, *, multi: bool = False,
             allow_out_of_range: bool | None = None) -> Value | None:
        """The value that starts at `pos` (after an introducing phrase), or None."""
        oor = mode == LOOSE if allow_out_of_range is None else allow_out_of_range
        space = (_WS if mode == LOOSE else _SPACES).match(low, pos)
        p = space.end() if space is not None else pos
        quotes = _QUOTES.match(low, p)
        if quotes is not None:
            p = quotes.end()
        if p >= len(low):
            return None
        if self.opts.polarity:
            said = self._polarity(prose, low, p, mode)
            if said is not None:
                return said
        negation = self.p.negation.match(low, p)
        if negation is not None:
            inner = self.read(prose, low, negation.end(), STRICT, allow_out_of_range=False)
            if inner is not None and inner.reason is None:
                return replace(inner, start=p, negated=True)
            return None
        if _NA.match(low, p):
            return None
        found = self._at(prose, low, p, mode, multi, oor)
        if found is None:
            skipped = self.p.skip.match(low, p)
            if skipped is not None and skipped.end() > p:
                found = self._at(prose, low, skipped.end(), mode, multi, oor)
        return found

    def _at(self, prose: str, low: str, p: int, mode: int, multi: bool,
            oor: bool) -> Value | None:
        label = self._label(prose, low, p, mode, multi, oor)
        text = self._text(prose, low, p)
        if label is not None and text is not None:
            if label.reason == "out_of_range" or label.keys == text.keys:
                return text
            if text.end > label.end or (text.end == label.end and len(label.keys) > 1):
                # An option's whole text that starts like a label ("A only", "A and B").
                return text
            # The label reads further (its own text), or the option text is the label
            # itself ("C" when option B's text is "c"): a label in an answer slot names
            # its option.
            return label
        if label is not None or text is not None:
            return label or text
        return self._number(low, p)

    def _label(self, prose: str, low: str, p: int, mode: int, multi: bool,
               oor: bool) -> Value | None:
        opts = self.opts
        if multi and mode == LOOSE and opts.kind == "letter":
            run = self.p.run.match(prose, p)
            if run is not None and _END.match(prose, run.end()):
                run_keys = tuple(opts.key(c) for c in run.group("run"))
                if len(set(run_keys)) == len(run_keys):
                    return self._several(run_keys, p, run.end(), run.group("run"))
        m = self.p.label.match(prose, p)
        if m is None:
            return None
        token, after = m.group("lab"), m.end()
        bracketed = bool(m.group("open") or m.group("close"))
        worded = bool(m.group("ow"))
        key = opts.key(token)
        end = _END.match(prose, after)
        named = self._attached(prose, low, after)
        own_end = self._own_text_end(low, after, key)
        if end is not None and _PROSE_DOT.match(prose, after) and named is None \
                and own_end is None and (mode != LOOSE or key is None):
            # "E. coli grows": a full stop and a lower-case word are prose, unless the words
            # are an option's text ("c. pulmonary embolism").
            end = None
        if opts.kind == "digit" and self.p.units.match(low, after):
            return None
        weak = opts.weak(token)
        if mode == LOOSE:
            ok = bracketed or worded or end is not None or (
                not weak and after < len(prose) and prose[after] in " \t")
        elif mode == MEDIUM:
            ok = bracketed or worded or (end is not None and not weak) or (
                not weak and (self.p.because.match(low, after) is not None
                              or named is not None or own_end is not None))
        else:
            ok = bracketed or (end is not None and (not weak or worded))
        if not ok:
            return None
        if key is None:
            if not oor:
                return None
            return Value((), p, after, "letter", "out_of_range",
                         f"answer {token!r} is not one of the options ({opts.span})")
        if named is not None and named.keys != (key,) and own_end is None:
            return Value((key,), p, named.end, "letter", "conflict",
                         f"{token} names option {named.keys[0]}'s text")
        text_end = named.end if named is not None and named.keys == (key,) else own_end
        keys: list[str | None] = [key]
        stop = after
        at = text_end or after
        listed = text_end is not None
        # More labels joined to the first ("A or C", "B, C and D", "A. text, B. text").
        while (more := self.p.more.match(prose, at)) is not None:
            label = more.group("lab")
            other = opts.key(label)
            tail = more.end()
            other_end = self._own_text_end(low, tail, other) if other else None
            if not (more.group("close") or other_end is not None or _END.match(prose, tail)
                    or self.p.more.match(prose, tail)):
                break
            if opts.weak(label) and not (more.group("open") or multi):
                break
            if other is None:  # "B and F" on a-e: a letter that is not an option
                keys.append(None)
                stop = tail
                break
            if other not in keys:
                keys.append(other)
            listed = listed or other_end is not None
            at = stop = other_end or tail
        if len(keys) > 1:
            return replace(self._several(tuple(keys), p, stop, prose[p:stop]), listed=listed)
        return Value((key,), p, text_end or after, "letter")

    def _own_text_end(self, low: str, after: int, key: str | None) -> int | None:
        """Where option `key`'s own text ends, when it follows its label ("A. ineffective
        control, B. ...") up to a word boundary; None if it does not follow."""
        if key is None:
            return None
        text = self.opts.text_of.get(key)
        if not text:
            return None
        sep = _SEPARATOR.match(low, after)
        at = sep.end() if sep is not None else after
        starts = [at]
        for pattern in (_QUOTES, _BRACKET):
            extra = pattern.match(low, at)
            if extra is not None:
                starts.append(extra.end())
        for start in starts:
            stop = start + len(text)
            if low.startswith(text, start) and not (stop < len(low) and low[stop].isalnum()):
                return stop
        return None

    def _several(self, keys: tuple[str | None, ...], start: int, end: int,
                 said: str) -> Value:
        if None in keys:
            return Value((), start, end, "letter", "out_of_range",
                         f"{said.strip()!r} names a letter that is not an option "
                         f"({self.opts.span})")
        chosen = tuple(k for k in keys if k is not None)
        return Value(chosen, start, end, "letter", "several_answers",
                     f"several answers at once: {', '.join(chosen)}")

    def _attached(self, prose: str, low: str, after: int) -> Value | None:
        """The option whose text directly follows a label ("C. Asthma", "C (Asthma)",
        "D: (30/200) / (30/400)")."""
        sep = _SEPARATOR.match(prose, after)
        if sep is None or not self.opts.texts:
            return None
        found = self._text(prose, low, sep.end(), trailing_label=False)
        if found is None and (bracket := _BRACKET.match(prose, sep.end())) is not None:
            found = self._text(prose, low, bracket.end(), trailing_label=False)
        return found

    def _text(self, prose: str, low: str, p: int, *,
              trailing_label: bool = True) -> Value | None:
        found = self.opts.match_text(low, p)
        if found is None:
            q = _QUOTES.match(low, p)
            found = self.opts.match_text(low, q.end()) if q is not None else None
            if found is None:
                return None
        key, stop = found
        kind = "yes_no" if key in self.opts.polarity.values() else "text"
        if trailing_label:
            label = self.p.text_label.match(prose, stop)
            if label is not None:
                named = self.opts.key(label.group("lab"))
                if named is not None and named != key:
                    return Value((key,), p, label.end(), kind, "conflict",
                                 f"option {key}'s text is labelled {label.group('lab')}")
                if named is not None:
                    return Value((key,), p, label.end(), kind)
        return Value((key,), p, stop, kind)

    def _polarity(self, prose: str, low: str, p: int, mode: int) -> Value | None:
        m = self.p.polarity.match(low, p)
        if m is None:
            return None
        if mode != LOOSE and _END.match(prose, m.end()) is None:
            return None
        said = m.lastgroup or ""
        key = self.opts.polarity.get(said)
        if key is None:
            return Value((), p, m.end(), "yes_no", "out_of_range",
                         f"answer {m.group()!r} is not one of the options")
        return Value((key,), p, m.end(), "yes_no")

    def _number(self, low: str, p: int) -> Value | None:
        if not self.opts.numbers:
            return None
        m = _NUMBER.match(low, p)
        if m is None or self.opts.text_end.match(low, m.end()) is None:
            return None
        value = number_value(m.group().replace(",", ".", 1) if "," in m.group() and len(
            m.group().split(",")[1].strip("% ")) <= 2 else m.group().replace(",", ""))
        if value is None:
            return None
        for number, key in self.opts.numbers:
            if abs(number - value) <= 1e-9 * max(1.0, abs(value)):
                return Value((key,), p, m.end(), "number")
        return None
