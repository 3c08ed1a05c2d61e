"""Option labels and option texts: what in a response can name an option.

A task labels its options as it likes: letters (``A``-``E`` or ``a``-``e``), numbers
(``1``-``5``), Roman numerals (``I``-``V`` or ``Ⅰ``-``Ⅴ``) or another script's letters.
`Options` holds, for one question, the pattern of a label-shaped token (also one that is
not among the options, so "E" on a four-option question is seen and refused), how each
token maps to an option key, and the options' texts and numeric values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from medq.scoring.extraction.lexicon import Lexicon, phrase_regex
from medq.scoring.extraction.text import fold

__all__ = ["Options", "build_options", "normalise_text", "number_value"]

_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8,
          "ix": 9, "x": 10, "xi": 11, "xii": 12}
_ROMAN_CHARS = {chr(0x2160 + i): i + 1 for i in range(12)} | {
    chr(0x2170 + i): i + 1 for i in range(12)}
_WS = re.compile(r"\s+")
_NUMBER = re.compile(
    r"(?P<sign>[-+])?(?P<int>\d+)(?:[.,](?P<frac>\d+))?(?:\s*/\s*(?P<den>\d+))?\s*(?P<pct>%)?"
)
# Units after a number: "2 mg" is an amount, not option 2.
UNITS = (r"(?:mg|g|kg|mcg|µg|ug|ng|ml|l|dl|mmol|mol|meq|iu|units?|mm|cm|m|km|mmhg|years?"
         r"|yrs?|months?|weeks?|days?|hours?|hrs?|h|min|minutes?|seconds?|s|times|x|bpm"
         r"|percent|%)(?![a-z])")


def normalise_text(text: str) -> str:
    """An option text as a response would write it: folded, lower-case, single-spaced,
    without surrounding quotes, markup or a final full stop."""
    text = _WS.sub(" ", fold(text)).strip()
    return text.strip("\"'`*_ ").rstrip(". ").lower()


def number_value(text: str) -> float | None:
    """The value of a number written as an integer, decimal, fraction or percentage."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    value = float(f"{match.group('int')}.{match.group('frac') or 0}")
    if match.group("den"):
        if match.group("frac") or int(match.group("den")) == 0:
            return None
        value /= int(match.group("den"))
    if match.group("pct"):
        value /= 100
    return -value if match.group("sign") == "-" else value


@dataclass(frozen=True)
class Options:
    """One question's options, compiled for reading.

    ``keys`` in order; ``kind`` is "letter", "digit", "roman" or "script"; ``token`` a
    regular expression (for the original-case text) of one label-shaped token;
    ``canonical`` turns a token into the form ``lookup`` maps to a key; ``texts`` matches
    an option's text at a position of the lower-cased text (group ``t<i>`` is key i);
    ``numbers`` the options whose text is one number; ``polarity`` maps yes/no/maybe to
    keys on a yes/no question.
    """

    keys: tuple[str, ...]
    kind: str
    token: str
    lookup: Mapping[str, str]
    texts: tuple[tuple[str, str], ...]
    text_end: re.Pattern[str]
    text_of: Mapping[str, str]
    numbers: tuple[tuple[float, str], ...]
    polarity: Mapping[str, str]
    span: str
    first: Mapping[str, tuple[tuple[str, str], ...]]  # texts by their first character
    lower_keys: bool = False  # the task labels its options a, b, c ...

    def match_text(self, low: str, pos: int, end: int | None = None) -> tuple[str, int] | None:
        """The option whose text starts at low[pos] and ends where a text may end
        (punctuation, a bracket, "because", ...), as (key, end); the longest wins."""
        for text, key in self.first.get(low[pos:pos + 1], ()):
            if low.startswith(text, pos):
                stop = pos + len(text)
            elif " " in text and low.startswith(text[:text.index(" ") + 1], pos):
                # The response spaced or wrapped the text differently.
                m = _spaced(text).match(low, pos)
                if m is None:
                    continue
                stop = m.end()
            else:
                continue
            if (end is None or stop <= end) and self.text_end.match(low, stop) is not None:
                return key, stop
        return None

    def key(self, token: str) -> str | None:
        """The option key a label token names, or None (a label-shaped non-option)."""
        return self.lookup.get(self.canonical(token))

    def canonical(self, token: str) -> str:
        if self.kind == "digit":
            return str(int(token)) if token.isdigit() else token
        if self.kind == "roman":
            value = _ROMAN_CHARS.get(token) or _ROMAN.get(token.lower())
            return str(value) if value else token
        return token.lower()

    def weak(self, token: str) -> bool:
        """Whether a bare token is also an ordinary word ("a", "I"), so it needs marks: a
        lower-case letter where the labels are capitals, and "a", "I", "i" always."""
        if self.kind not in ("letter", "roman"):
            return False
        if token in ("a", "I", "i"):
            return True
        return token.islower() and not self.lower_keys


def _kind(keys: list[str]) -> str:
    if all(len(k) == 1 and k.isascii() and k.isalpha() for k in keys):
        return "letter"
    if all(k.isdigit() and len(k) <= 2 for k in keys):
        return "digit"
    if all(k in _ROMAN_CHARS or k.lower() in _ROMAN for k in keys):
        return "roman"
    if all(k.isalpha() and len(k) <= 3 and not k.isascii() for k in keys):
        return "script"
    raise ValueError(
        "option keys must all be single letters (A-Z or a-z), numbers (1-99), Roman "
        f"numerals (I-XII) or one script's letters, got {keys!r}"
    )


@lru_cache(maxsize=4096)
def build_options(items: tuple[tuple[str, str], ...], lex: Lexicon) -> Options:
    """Compile one question's options (keys and texts in order) for `lex`'s languages.

    Raises:
        ValueError: no options, or keys that are not labels of one kind.
    """
    if not items:
        raise ValueError("options must name at least one option")
    keys = [k for k, _ in items]
    kind = _kind(keys)
    lookup: dict[str, str] = {}
    if kind == "letter":
        token = r"(?<![A-Za-z0-9])[A-Za-z](?![A-Za-z0-9])"
        # The task's languages may write the n-th option in their own script (Arabic ب).
        aliases = [letter for script in lex.scripts for letter in script]
        if aliases:
            token = "(?:" + token + "|" + "|".join(
                r"(?<!\w)" + re.escape(a) + r"(?!\w)" for a in sorted(set(aliases), key=len,
                                                                        reverse=True)) + ")"
        for script in lex.scripts:
            for letter, key in zip(script, keys, strict=False):
                lookup[letter] = key
        for key in keys:
            lookup[key.lower()] = key
    elif kind == "digit":
        token = r"(?<![\d.,/])\d{1,2}(?![\d]|[.,/]\d|\s*%)"
        lookup = {str(int(k)): k for k in keys}
    elif kind == "roman":
        numerals = sorted(_ROMAN, key=len, reverse=True)
        token = (r"(?<![A-Za-z0-9])(?:[\u2160-\u216b\u2170-\u217b]|"
                 + "|".join(numerals) + "|" + "|".join(n.upper() for n in numerals)
                 + r")(?![A-Za-z0-9])")
        for k in keys:
            value = _ROMAN_CHARS.get(k) or _ROMAN[k.lower()]
            lookup[str(value)] = k
    else:
        token = "(?:" + "|".join(r"(?<!\w)" + re.escape(k) + r"(?!\w)"
                                 for k in sorted(keys, key=len, reverse=True)) + ")"
        lookup = {k.lower(): k for k in keys}
    if len(set(lookup.values())) != len(keys) or len(keys) != len(set(keys)):
        raise ValueError(f"option keys name the same label twice: {keys!r}")

    normalised = [(key, normalise_text(text)) for key, text in items]  # once per option
    by_text: dict[str, list[str]] = {}
    for key, norm in normalised:
        if norm:
            by_text.setdefault(norm, []).append(key)
    # Two options with the same text name no single option, so that text never matches.
    unique = sorted(((t, ks[0]) for t, ks in by_text.items() if len(ks) == 1),
                    key=lambda item: -len(item[0]))
    numbers: dict[float, list[str]] = {}
    for key, norm in normalised:
        number = number_value(norm)
        if number is not None:
            numbers.setdefault(round(number, 9), []).append(key)
    polarity = _polarity(normalised, lex)
    span = keys[0] if len(keys) == 1 else f"{keys[0]}-{keys[-1]}"
    first: dict[str, list[tuple[str, str]]] = {}
    for text, key in unique:
        first.setdefault(text[0], []).append((text, key))
    return Options(
        tuple(keys), kind, token, lookup, tuple(unique), _text_end(lex),
        dict(normalised),
        tuple((v, ks[0]) for v, ks in numbers.items() if len(ks) == 1), polarity, span,
        {c: tuple(ts) for c, ts in first.items()},
        all(k.islower() for k in keys if k.isalpha()),
    )


@lru_cache(maxsize=4096)
def _spaced(text: str) -> re.Pattern[str]:
    return re.compile(r"\s+".join(re.escape(word) for word in text.split(" ")))


@lru_cache(maxsize=64)
def _text_end(lex: Lexicon) -> re.Pattern[str]:
    because = phrase_regex(lex["statement.because"])
    # An option's text ends at punctuation, a bracket, a line end, an explanation word or
    # (for CJK text) anywhere, since CJK writes no spaces.
    return re.compile(
        r"[ \t]*(?:$|[\n.;:!?()\[\]\"'*/<]|-\s|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])"
        rf"|,?\s+{because}|\s+-\s")


@lru_cache(maxsize=64)
def _polarity_words(lex: Lexicon) -> Mapping[str, str]:
    return {w: p for p in ("yes", "no", "maybe") for w in lex[f"polarity.{p}"]}


def _polarity(normalised: list[tuple[str, str]], lex: Lexicon) -> Mapping[str, str]:
    """Which key says yes, no and maybe, from the options' normalised texts."""
    words = _polarity_words(lex)
    found: dict[str, str] = {}
    for key, norm in normalised:
        polarity = words.get(norm)
        if polarity is not None and polarity not in found:
            found[polarity] = key
    return found if "yes" in found and "no" in found else {}
