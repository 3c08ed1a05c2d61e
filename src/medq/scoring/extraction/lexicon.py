"""Per-language answer lexicons: how models state, retract and hedge an answer, as data.

Each language is one TOML file in ``medq/scoring/lexicons/`` (``en.toml``, ``es.toml``, ...)
whose ``[meta]`` table names the sources of its phrasing. Every other entry is a list of
literal phrases, matched case-insensitively; a space in a phrase matches any run of
whitespace (none between CJK characters), and a leading ``~`` marks a phrase that attaches
to the word before it ("~n't"). The fields:

``[answer]``
    ``nouns`` ("correct answer", "respuesta correcta") followed by one of ``copulas``
    ("is", "es") or a colon; ``negative_copulas`` ("is not") make the statement a denial;
    ``phrases`` are complete intros that need no copula ("故选").
``[statement]``
    ``choose`` ("I choose"), ``copula`` ("it's"), ``therefore`` ("thus"), ``likely`` /
    ``likely_copulas`` ("the most likely diagnosis is"), ``after_label`` ("C is correct")
    and ``after_label_negative`` ("C is wrong"), ``lead_ins`` (words allowed before such a
    label), ``option_words`` ("option C"), ``fillers`` skipped before a value ("the",
    "definitely"), ``conjunctions`` joining several letters, ``because`` (words after
    which an option's text may end).
``[markers]``
    words that change what a statement does: ``negation``, ``negation_lead`` ("not C"),
    ``hedge``, ``attribution``, ``concession``, ``clause_breaks``, ``conditional``,
    ``hypothetical``, ``modal``, ``subjunctive``, ``inverted_conditional`` ("Had the
    onset..."), ``forced_choice`` ("if I had to choose", which commits),
    ``firm_conditions`` ("even if", "if we consider": conditions that do not suspend the
    answer), ``review`` ("looking at"), ``retraction``, ``correction``, ``refusal``.
``[polarity]``
    ``yes`` / ``no`` / ``maybe`` words, for yes/no/maybe questions.
``[labels]``
    ``script``: the letters a script uses for options in order (Arabic أ ب ج د), read as
    the task's 1st, 2nd, ... option.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

__all__ = ["Lexicon", "UnknownLanguageError", "available_languages", "lexicon", "phrase_regex",
           "phrase_tries"]

FIELDS: Mapping[str, frozenset[str]] = {
    "answer": frozenset({"nouns", "copulas", "negative_copulas", "phrases"}),
    "statement": frozenset({
        "choose", "copula", "therefore", "likely", "likely_copulas", "after_label",
        "after_label_negative", "lead_ins", "option_words", "mention_words", "fillers",
        "conjunctions", "because",
    }),
    "markers": frozenset({
        "negation", "negation_lead", "hedge", "attribution", "concession", "clause_breaks",
        "conditional", "hypothetical", "modal", "subjunctive", "inverted_conditional",
        "forced_choice", "firm_conditions", "review", "retraction", "correction", "refusal",
    }),
    "polarity": frozenset({"yes", "no", "maybe"}),
    "labels": frozenset({"script"}),
}

# Hangul Jamo, kana, Hangul compatibility Jamo, CJK ideographs (extension A and unified),
# Hangul syllables, CJK compatibility ideographs. Code-point ranges, not a regex: compiling
# a character class this wide costs ~4 ms at start-up (issue 19).
_CJK = ((0x1100, 0x11FF), (0x3040, 0x30FF), (0x3130, 0x318F), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


class UnknownLanguageError(ValueError):
    """A language medq has no answer lexicon for."""


@dataclass(frozen=True, eq=False)
class Lexicon:
    """The merged phrases of one or more languages (English always included); one object
    per language set (`lexicon` caches them), compared by identity."""

    languages: tuple[str, ...]
    words: Mapping[str, tuple[str, ...]]  # "section.field" -> phrases, lower-case
    scripts: tuple[tuple[str, ...], ...]  # each language's option letters, if it has them

    def __getitem__(self, field: str) -> tuple[str, ...]:
        return self.words[field]


@cache
def available_languages() -> tuple[str, ...]:
    """The language codes with a lexicon file, sorted (package data: read once)."""
    folder = resources.files("medq.scoring") / "lexicons"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def _code(language: str) -> str:
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


@cache
def _load(code: str) -> tuple[Mapping[str, tuple[str, ...]], tuple[str, ...]]:
    path = resources.files("medq.scoring") / "lexicons" / f"{code}.toml"
    if not path.is_file():
        raise UnknownLanguageError(
            f"no answer lexicon for language {code!r}; medq has: "
            f"{', '.join(available_languages())}"
        )
    name = f"medq/scoring/lexicons/{code}.toml"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name}: {exc}") from None
    meta = document.pop("meta", None)
    if not isinstance(meta, dict) or not meta.get("sources"):
        raise ValueError(f"{name}: [meta] must list the sources of its phrasing")
    words: dict[str, tuple[str, ...]] = {}
    for section, fields in document.items():
        known = FIELDS.get(section)
        if known is None or not isinstance(fields, dict):
            raise ValueError(f"{name}: unknown section [{section}]; expected one of "
                             f"{', '.join(FIELDS)}")
        for field, phrases in fields.items():
            if field not in known:
                raise ValueError(f"{name}: [{section}] has unknown field {field!r}")
            if not isinstance(phrases, list) or not all(
                isinstance(p, str) and p.strip() for p in phrases
            ):
                raise ValueError(f"{name}: [{section}] {field} must be a list of phrases")
            words[f"{section}.{field}"] = tuple(p.strip().lower() for p in phrases)
    script = words.pop("labels.script", ())
    return words, script


@lru_cache(maxsize=64)
def lexicon(languages: tuple[str, ...] = ("en",)) -> Lexicon:
    """The lexicon for `languages` (codes such as "es" or "pt-BR"), with English always on.

    Raises:
        UnknownLanguageError: a language has no lexicon file.
    """
    codes = tuple(dict.fromkeys(["en", *(_code(lang) for lang in languages)]))
    merged: dict[str, list[str]] = {
        f"{section}.{field}": [] for section, fields in FIELDS.items() for field in fields
        if field != "script"
    }
    scripts = []
    for code in codes:
        words, script = _load(code)
        for field, phrases in words.items():
            merged[field].extend(phrases)
        if script:
            scripts.append(script)
    return Lexicon(codes, {k: tuple(dict.fromkeys(v)) for k, v in merged.items()},
                   tuple(scripts))


def _cjk(char: str) -> bool:
    code = ord(char)
    return code >= 0x1100 and any(low <= code <= high for low, high in _CJK)


_escape = cache(re.escape)  # per character: a lexicon's phrases repeat few


def _tokens(phrase: str) -> tuple[list[str], bool, bool]:
    """A phrase as regex tokens, with whether it needs a word boundary before / after."""
    attached = phrase.startswith("~")
    phrase = phrase.lstrip("~")
    tokens: list[str] = []
    words = phrase.split()
    for i, word in enumerate(words):
        if i:
            cjk_join = _cjk(words[i - 1][-1]) or _cjk(word[0])
            tokens.append(r"\s*" if cjk_join else r"\s+")
        tokens.extend(map(_escape, word))
    first, last = phrase[0], phrase[-1]
    before = first.isalnum() and not _cjk(first) and not attached
    after = last.isalnum() and not _cjk(last)
    return tokens, before, after


_END = object()


def _trie_regex(node: dict) -> str:
    """A regular expression for a token trie: shared prefixes are matched once, longer
    phrases tried before their prefixes (Python's re does not optimise alternations)."""
    branches = []
    for token in sorted(k for k in node if k is not _END):
        branches.append(token + _trie_regex(node[token]))
    if _END in node:
        branches.append(r"(?!\w)" if node[_END] else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def phrase_tries(phrases: Iterable[str]) -> tuple[str | None, str | None]:
    """The regular expressions of `phrases` that need a word boundary before them (without
    it, for the caller to place once) and of the rest (CJK, attached), or None."""
    tries: tuple[dict, dict] = ({}, {})
    for phrase in set(phrases):
        tokens, before, after = _tokens(phrase)
        node = tries[0 if before else 1]
        for token in tokens:
            node = node.setdefault(token, {})
        # A phrase that is also a prefix of another is tried after it (longest first).
        node[_END] = node.get(_END, False) or after
    return tuple(_trie_regex(t) if t else None for t in tries)  # type: ignore[return-value]


def phrase_regex(phrases: Iterable[str]) -> str:
    """One regular expression matching any of `phrases` (longest first, word-bounded
    where the script has words), for a lower-cased text."""
    bounded, free = phrase_tries(phrases)
    parts = []
    if bounded:
        parts.append(r"(?<!\w)" + bounded)
    if free:
        parts.append(free)
    if not parts:
        return r"(?!x)x"
    return "(?:" + "|".join(parts) + ")"
