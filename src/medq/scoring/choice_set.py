"""Multi-answer items: reading the SET of options a reply chose, and the set metrics.

Labrak et al., "FrenchMedMCQA: A French Multiple-Choice Question Answering Dataset for
Medical domain" (LOUHI @ EMNLP 2022) score such items by the exact match ratio (EMR: the
predicted set equals the gold set) and the Hamming score, |P ∩ G| / |P ∪ G| averaged over
the items (Tsoumakas & Katakis 2007).

Reading a set, strongest rule first, the *last* stated answer winning within a rule:

1. ``json``: a JSON list of letters (``["B", "C", "D"]``) or a JSON object whose answer key
   (``answer``, ``answers``, ``correct_answers``, ``final_answer``, ``choices``) holds such
   a list or a letter string;
2. ``answer_phrase``: an answer cue of the item's language ("Answer:", "The correct answers
   are", "Réponses : ", "Les bonnes réponses sont", "Respuesta:", "Risposta:") followed by
   a set written "B, C et D", "B, C and D", "B/C/D", "BCD" or "(B) (D)"; the set must end
   at punctuation, the end of the line, a copula ("are", "sont") or a reason ("because",
   "car"), so "Answer: I think B" is not the set {I};
3. ``bare_set``: the whole reply is a set and nothing else ("BCD", "B, C, D.").

A letter that is not an option makes the reply invalid with a reason (never dropped in
favour of the others); "B or C" is a conflict, invalid; lower-case letters count only when
the set ends cleanly ("réponse : b et d."), so the French verb in "la réponse a été" is
never option A. Nothing else is read: no option-text matching, no default letter.
The cue and conjunction lexicons are per language (``languages`` of the reading, from the
item's ``metadata["language"]``); English is always included.

Bump `SET_READER_VERSION` on any change of behaviour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from medq.scoring.extract import strip_reasoning
from medq.scoring.readings import leaf, read_leaf, register_reader
from medq.types import Answer, Completion, Generation, Reading, Status

__all__ = [
    "SET_READER_VERSION",
    "SetExtraction",
    "by_n_correct",
    "emr",
    "emr_ci_high",
    "emr_ci_low",
    "extract_choice_set",
    "hamming",
    "hamming_ci_high",
    "hamming_ci_low",
    "hamming_score",
    "set_answer",
    "set_metrics",
]

SET_READER_VERSION = "1"

# Answer cues per language: a phrase that introduces the answer set.
_CUES: dict[str, tuple[str, ...]] = {
    "en": (r"(?:final|correct|right|true)?\s*(?:answers?|options?|choices?|responses?)"
           r"(?:\s+(?:is|are))?",),
    "fr": (r"(?:les\s+|la\s+)?(?:bonnes?\s+)?(?:réponses?|propositions?)"
           r"(?:\s+(?:finales?|correctes?|exactes?|justes?|vraies?))?(?:\s+(?:est|sont))?",),
    "es": (r"(?:las?\s+)?(?:respuestas?|opci[oó]n(?:es)?)"
           r"(?:\s+(?:correctas?|finale?s?|verdaderas?))?(?:\s+(?:es|son))?",),
    "it": (r"(?:le\s+|la\s+)?(?:rispost[ae]|opzion[ei])"
           r"(?:\s+(?:corrett[ae]|esatt[ae]|finali?))?(?:\s+(?:è|sono))?",),
    "pt": (r"(?:as?\s+)?(?:respostas?|op[çc](?:ão|ões))"
           r"(?:\s+(?:corretas?|certas?|finais?|final))?(?:\s+(?:é|são))?",),
}
# Conjunctions between letters ("B, C and D"); "," ";" "/" "&" "+" always separate.
_AND: dict[str, tuple[str, ...]] = {
    "en": ("and",), "fr": ("et",), "es": ("y", "e"), "it": ("e", "ed"), "pt": ("e",),
}
# "B or C": a conflict, not a set.
_OR: dict[str, tuple[str, ...]] = {
    "en": ("or",), "fr": ("ou",), "es": ("o", "u"), "it": ("o", "oppure"), "pt": ("ou",),
}
# What may follow a set: a copula or a reason, in any of the languages.
_FOLLOW = (r"are|is|sont|est|son|es|sono|è|são|é|because|since|as|car|parce|puisque"
           r"|porque|perché|poiché|pois")
_JSON_KEYS = ("answers", "answer", "correct_answers", "final_answer", "choices",
              "réponses", "reponses", "réponse", "respuestas", "risposte")


@dataclass(frozen=True)
class SetExtraction:
    """The set a reply chose: `letters` in option order ("BCD"), or None when invalid.

    `method` names the rule that decided (``json``, ``answer_phrase``, ``bare_set``);
    `reason` says why the reply is invalid.
    """

    letters: str | None
    method: str | None
    reason: str | None = None


@dataclass(frozen=True)
class _Found:
    pos: int
    letters: str | None
    method: str
    reason: str | None = None


def _languages(languages: Iterable[str]) -> list[str]:
    out = ["en"]
    for language in languages:
        code = str(language).lower().split("-")[0].split("_")[0]
        if code in _CUES and code not in out:
            out.append(code)
    return out


@dataclass(frozen=True)
class _Grammar:
    cue: re.Pattern[str]
    set_: re.Pattern[str]
    sep: re.Pattern[str]
    conflict: re.Pattern[str]
    end: re.Pattern[str]


@cache
def _grammar(languages: tuple[str, ...]) -> _Grammar:
    codes = _languages(languages)
    cues = "|".join(c for code in codes for c in _CUES[code])
    ands = sorted({w for code in codes for w in _AND[code]}, key=len, reverse=True)
    ors = sorted({w for code in codes for w in _OR[code]}, key=len, reverse=True)
    # Lower-case "e" is a conjunction in Spanish, Italian and Portuguese, never option E.
    words = "|".join(re.escape(w) for w in ands)
    sep = rf"(?:[ \t]*[,;/&+][ \t]*(?:(?:{words})[ \t]+)?|[ \t]+(?:{words})[ \t]+|[ \t]+)"
    letter = r"[*_]{0,2}[(\[]?(?P<l>[A-Za-z])[)\]]?[*_]{0,2}(?![\w'’-])"
    return _Grammar(
        cue=re.compile(rf"(?<![\w])(?:{cues})(?:[ \t]*(?:[:=\-–—]|\*\*|__))*[ \t]*", re.I),
        set_=re.compile(letter),
        sep=re.compile(sep),
        conflict=re.compile(rf"[ \t]*,?[ \t]+(?:{'|'.join(ors)})[ \t]+[*_(\[]*[A-Za-z](?![\w])"),
        end=re.compile(rf"[ \t]*(?:$|\n|[.,;:!?)\]*_]|[ \t]*[-–—(]|[ \t]+(?:{_FOLLOW})\b)",
                       re.I),
    )


def extract_choice_set(
    text: str, options: Mapping[str, str], languages: Iterable[str] = ()
) -> SetExtraction:
    """The set of option letters a reply chose, or invalid (see the module docstring).

    Example:
        >>> opts = dict.fromkeys("ABCDE", "")
        >>> extract_choice_set("Les réponses exactes sont B, C et D.", opts, ["fr"]).letters
        'BCD'
        >>> extract_choice_set("Answer: B or C", opts).letters is None
        True
    """
    body, why = strip_reasoning(text)
    if why is not None:
        return SetExtraction(None, None, why)
    grammar = _grammar(tuple(languages))
    keys = list(options)
    for rule in (_json_sets, _phrase_sets, _bare_set):
        found = list(rule(body, keys, grammar))
        if found:
            last = max(found, key=lambda f: f.pos)
            return SetExtraction(last.letters, last.method if last.letters else None,
                                 last.reason)
    return SetExtraction(None, None, "no answer set found")


def _checked(letters: Sequence[str], keys: Sequence[str], pos: int, method: str) -> _Found:
    """The letters as a set in option order; invalid when one is not an option."""
    upper = [c.upper() for c in letters]
    outside = [c for c in upper if c not in keys]
    if outside:
        return _Found(pos, None, method, f"letter {outside[0]} is not an option "
                                         f"({keys[0]}-{keys[-1]})")
    chosen = set(upper)
    return _Found(pos, "".join(k for k in keys if k in chosen), method)


def _json_sets(body: str, keys: Sequence[str], grammar: _Grammar) -> Iterator[_Found]:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", body):
        try:
            value, _ = decoder.raw_decode(body, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            value = next((value[k] for k in value if str(k).lower() in _JSON_KEYS), None)
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z]+", value.strip()):
            value = list(value.strip())
        if isinstance(value, list) and value and all(
                isinstance(v, str) and re.fullmatch(r"\s*[A-Za-z]\s*", v) for v in value):
            yield _checked([v.strip() for v in value], keys, match.start(), "json")


def _read_set(body: str, start: int, keys: Sequence[str], grammar: _Grammar, *,
              whole: bool) -> _Found | None:
    """A letter set starting at `start` ("B, C et D", "BCD"), properly ended; None if none."""
    packed = re.compile(r"[*_]{0,2}(?P<run>[A-Z]{2,})[*_]{0,2}(?![\w'’-])").match(body, start)
    if packed is not None and len(set(packed["run"])) == len(packed["run"]):
        letters, end, lower = list(packed["run"]), packed.end(), False
    else:
        letters, end, pos = [], start, start
        while True:
            found = grammar.set_.match(body, pos)
            if found is None:
                break
            letters.append(found["l"])
            end = found.end()
            sep = grammar.sep.match(body, end)
            if sep is None or grammar.set_.match(body, sep.end()) is None:
                break
            pos = sep.end()
        if not letters:
            return None
        lower = any(c.islower() for c in letters)
    if grammar.conflict.match(body, end):
        return _Found(start, None, "answer_phrase", "conflicting answers (\"or\")")
    rest = body[end:]
    if whole and rest.strip(" \t\n.*_!") != "":
        return None
    if not whole and not grammar.end.match(body, end):
        return None
    if lower and not whole and not re.match(r"[ \t]*(?:$|\n|[.;!?)])", rest):
        return None
    return _checked(letters, keys, start, "bare_set" if whole else "answer_phrase")


def _phrase_sets(body: str, keys: Sequence[str], grammar: _Grammar) -> Iterator[_Found]:
    for cue in grammar.cue.finditer(body):
        found = _read_set(body, cue.end(), keys, grammar, whole=False)
        if found is not None:
            yield _Found(cue.start(), found.letters, "answer_phrase", found.reason)


def _bare_set(body: str, keys: Sequence[str], grammar: _Grammar) -> Iterator[_Found]:
    stripped = body.strip()
    found = _read_set(stripped, 0, keys, grammar, whole=True) if stripped else None
    if found is not None:
        yield found


def hamming_score(predicted: str | None, gold: str) -> float:
    """|P ∩ G| / |P ∪ G| of two letter sets; 0 for an invalid (None) prediction.

    Example:
        >>> hamming_score("BC", "BCD")
        0.6666666666666666
    """
    if not predicted:
        return 0.0
    p, g = set(predicted), set(gold)
    return len(p & g) / len(p | g)


# -- the reader ----------------------------------------------------------------------------


def set_answer(
    completion: Completion,
    options: Mapping[str, str],
    index: int = 0,
    *,
    back: Mapping[str, str] | None = None,
    languages: Sequence[str] = (),
) -> Answer:
    """The set a generation chose, with its ``choice_set`` reading recorded for rescore.

    `options` are the options as presented; `back` maps presented letters to the original
    ones (shuffled options)."""
    args: dict[str, Any] = {"options": [[k, v] for k, v in options.items()]}
    if back is not None:
        args["back"] = dict(back)
    if languages:
        args["languages"] = list(languages)
    reading = leaf("choice_set", completion, index, **args)
    return read_leaf(reading, completion.generations[index])


@register_reader("choice_set")
def _read_choice_set(reading: Reading, generation: Generation) -> Answer:
    options = {k: v for k, v in reading.args["options"]}
    found = extract_choice_set(generation.text, options, reading.args.get("languages") or ())
    details = {"method": found.method, "set_reader": SET_READER_VERSION}
    if found.letters is None:
        return Answer(None, Status.INVALID, generation.text, truncated=generation.truncated,
                      reason=found.reason, details=details)
    back = reading.args.get("back")
    letters = found.letters
    if back:
        letters = "".join(sorted(back[c] for c in letters))
    return Answer(letters, Status.OK, generation.text, truncated=generation.truncated,
                  details=details)


# -- metrics -------------------------------------------------------------------------------

_Sample = Mapping[str, Any]
_BOOTSTRAP_SEED = 0  # the metrics see only the samples; a fixed seed keeps them reproducible
_RESAMPLES = 2000


def _scored(samples: Iterable[_Sample]) -> list[tuple[str | None, str, _Sample]]:
    """(predicted set or None, gold set, sample) of every item that is not an error."""
    out = []
    for s in samples:
        if s["status"] == "error":
            continue
        predicted = s["choice"] if s["status"] == "ok" else None
        out.append((predicted, s["gold"], s))
    return out


def set_metrics(samples: Iterable[_Sample]) -> dict[str, Any] | None:
    """EMR and Hamming score with 95% intervals (Wilson for EMR, a seeded percentile
    bootstrap of the item scores for Hamming), n, and the breakdown by the number of
    correct answers; None when no item was scored. Invalid replies score 0 in both and
    stay in n; errors are left out."""
    from medq.scoring.metrics import wilson_interval

    rows = _scored(samples)
    if not rows:
        return None
    exact = [int(p == g) for p, g, _ in rows]
    scores = [hamming_score(p, g) for p, g, _ in rows]
    low, high = wilson_interval(sum(exact), len(exact))
    h_low, h_high = _bootstrap_mean(scores)
    groups: dict[int, list[int]] = {}
    for i, (_, gold, s) in enumerate(rows):
        count = (s["details"].get("metadata") or {}).get("n_correct", len(gold))
        groups.setdefault(int(count), []).append(i)
    by_count = {
        str(k): {"n": len(ix), "emr": sum(exact[i] for i in ix) / len(ix),
                 "hamming": sum(scores[i] for i in ix) / len(ix)}
        for k, ix in sorted(groups.items())
    }
    return {"n": len(rows), "emr": sum(exact) / len(exact), "emr_ci_low": low,
            "emr_ci_high": high, "hamming": sum(scores) / len(scores),
            "hamming_ci_low": h_low, "hamming_ci_high": h_high, "by_n_correct": by_count}


def _bootstrap_mean(values: Sequence[float]) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of item scores in [0, 1]."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.Generator(np.random.PCG64(_BOOTSTRAP_SEED))
    picks = rng.integers(0, data.size, size=(_RESAMPLES, data.size))
    low, high = np.quantile(data[picks].mean(axis=1), [0.025, 0.975])
    return float(low), float(high)


def _field(name: str):  # noqa: ANN202 - a metric function for one key of `set_metrics`
    def metric(samples: list[_Sample]) -> Any:
        found = set_metrics(samples)
        return None if found is None else found[name]

    metric.__name__ = name
    metric.__doc__ = f"``{name}`` of `set_metrics`."
    return metric


emr = _field("emr")
emr_ci_low = _field("emr_ci_low")
emr_ci_high = _field("emr_ci_high")
hamming = _field("hamming")
hamming_ci_low = _field("hamming_ci_low")
hamming_ci_high = _field("hamming_ci_high")
by_n_correct = _field("by_n_correct")

def _shown_in_table(value: Any) -> list[str]:
    return []  # EMR and Hamming have their columns in the summary table


def by_count_lines(value: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`medq show`'s line for the breakdown by number of correct options."""
    cells = [f"{k} correct: EMR {100 * row['emr']:.1f}%, Hamming {100 * row['hamming']:.1f}% "
             f"(n={row['n']})" for k, row in value.items()]
    return ["by number of correct options: " + "; ".join(cells)]


METRICS = (*((name, metric, _shown_in_table) for name, metric in (
    ("emr", emr), ("emr_ci_low", emr_ci_low), ("emr_ci_high", emr_ci_high),
    ("hamming", hamming), ("hamming_ci_low", hamming_ci_low),
    ("hamming_ci_high", hamming_ci_high))), ("by_n_correct", by_n_correct, by_count_lines))
"""The metrics a multi-answer task declares (`medq.tasks.base.TaskSpec.metrics`)."""
