"""Reading answers from model output: the scoring stage, shared by eval and rescore.

A strategy's calls and their completions are the record of an item. What the strategy
concluded from them is a `medq.types.Reading` tree: leaves read one generation with a
reader (``choice``: the option extractor; calculation and correction readers register
themselves from their scoring modules), ``vote`` nodes combine their parts by medq's one
majority rule, ``fixed`` leaves carry answers no text reader made. `read` evaluates a
tree; during a run the strategy's own generations are the source, in `medq rescore` the
stored calls are — so a rescore needs no model, no prompt file, no exemplar pool, corpus or
encoder, and eval and rescore read answers through the same lines.

Example:
    >>> from medq.types import Generation, Reading
    >>> leaf = choice_reading(Generation("Answer: B"), {"A": "x", "B": "y"})
    >>> read(leaf, lambda r: Generation(r.text or "")).choice
    'B'
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medq.types import Answer, Completion, Generation, Reading, Status

Source = Callable[[Reading], Generation]
"""The generation a leaf reads (from a live completion, or from the store)."""
LeafReader = Callable[[Reading, Generation], Answer]

_READERS: dict[str, LeafReader] = {}
_discovered = False


class UnreadableError(LookupError):
    """A reading cannot be evaluated (its stored call is gone, or its rule is unknown)."""


def register_reader(rule: str) -> Callable[[LeafReader], LeafReader]:
    """Decorator: the leaf reader for readings whose rule is `rule`."""

    def decorate(reader: LeafReader) -> LeafReader:
        _READERS[rule] = reader
        return reader

    return decorate


def _reader(rule: str) -> LeafReader:
    global _discovered
    if rule not in _READERS and not _discovered:
        _discovered = True
        # Readers live beside their extractors in medq.scoring; importing the package's
        # modules registers them, so no list here names a benchmark.
        package = importlib.import_module("medq.scoring")
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"medq.scoring.{module.name}")
    try:
        return _READERS[rule]
    except KeyError:
        raise UnreadableError(f"no reader for rule {rule!r}") from None


def leaf(rule: str, generation: Generation | Completion, index: int = 0,
         **args: Any) -> Reading:
    """A leaf reading of one generation: by its stored call key when it has one."""
    key = None
    if isinstance(generation, Completion):
        key = generation.key
        generation = generation.generations[index]
    if key is not None:
        return Reading(rule, call=key, index=index, args=args)
    return Reading(rule, text=generation.text, args=args)


def read_leaf(reading: Reading, generation: Generation) -> Answer:
    """Evaluate one leaf on the generation it reads."""
    answer = _reader(reading.rule)(reading, generation)
    return _with_reading(answer, reading)


def read(reading: Reading, source: Source) -> Answer:
    """Evaluate a reading tree; `source` gives each leaf's generation.

    Raises:
        UnreadableError: a leaf's call is not available or its rule is unknown.
    """
    if reading.rule == "fixed":
        return fixed_answer(reading)
    if reading.rule == "vote":
        parts = [read(part, source) for part in reading.parts]
        return vote(parts, reading.args["order"], **dict(reading.args.get("details") or {}))
    return read_leaf(reading, source(reading))


def _with_reading(answer: Answer, reading: Reading) -> Answer:
    # A field-for-field copy: `dataclasses.replace` re-inspects the fields on every call
    # (4x the cost), and `Answer` has no __post_init__ for it to re-run.
    copied = object.__new__(Answer)
    copied.__dict__.update(answer.__dict__)
    object.__setattr__(copied, "reading", reading)
    return copied


def choice_reading(
    generation: Generation | Completion,
    options: Mapping[str, str],
    index: int = 0,
    *,
    back: Mapping[str, str] | None = None,
    languages: Sequence[str] = (),
) -> Reading:
    """The leaf that reads an option letter among `options` (as presented) from a
    generation; `back` maps presented letters to the original ones (shuffled options)."""
    args: dict[str, Any] = {"options": [[k, v] for k, v in options.items()]}
    if back is not None:
        args["back"] = dict(back)
    if languages:
        args["languages"] = list(languages)
    return leaf("choice", generation, index, **args)


@register_reader("choice")
def _read_choice(reading: Reading, generation: Generation) -> Answer:
    from medq.scoring.extract import available_languages, extract_choice

    options = {k: v for k, v in reading.args["options"]}
    # English is always on; a language without a lexicon falls back to it (and says so).
    asked = ["en", *reading.args.get("languages", ())]
    known = set(available_languages())
    languages = tuple(dict.fromkeys(code for code in asked if code in known))
    extraction = extract_choice(generation.text, options, languages=languages)
    details: dict[str, Any] = {"method": extraction.method}
    if len(languages) > 1 or len(asked) > 1:
        details["languages"] = list(languages)
        missing = [code for code in asked if code not in known]
        if missing:
            details["languages_without_lexicon"] = missing
    for extra in ("span", "detail"):
        value = getattr(extraction, extra, None)
        if value is not None:
            details[extra] = list(value) if isinstance(value, tuple) else value
    if extraction.choice is None:
        details["invalid_reason"] = extraction.reason or "no_answer"
        return Answer(None, Status.INVALID, generation.text, truncated=generation.truncated,
                      reason=extraction.detail or extraction.reason or "no answer found",
                      details=details)
    back = reading.args.get("back")
    choice = back[extraction.choice] if back else extraction.choice
    return Answer(choice, Status.OK, generation.text, truncated=generation.truncated,
                  details=details)


def fixed(answer: Answer) -> Reading:
    """A reading that carries `answer` as it is (no text reader made it)."""
    return Reading("fixed", args={
        "choice": answer.choice,
        "status": answer.status.value,
        "text": answer.text,
        "truncated": answer.truncated,
        "confidence": answer.confidence,
        "reason": answer.reason,
    })


def fixed_answer(reading: Reading) -> Answer:
    """The answer a ``fixed`` reading carries."""
    a = reading.args
    return Answer(a["choice"], Status(a["status"]), a["text"], truncated=a["truncated"],
                  confidence=a["confidence"], reason=a["reason"], reading=reading)


def reading_of(answer: Answer) -> Reading:
    """The answer's reading, or a ``fixed`` one for an answer made without a reading."""
    return answer.reading if answer.reading is not None else fixed(answer)


EVIDENCE_KEYS = ("retrieved", "cited", "referenced", "retrieval_ms")
"""A retrieval strategy's record of the evidence behind its answer (`rag_details`)."""


def vote(answers: Sequence[Answer], order: Sequence[str], **details: Any) -> Answer:
    """One answer from many, by medq's majority rule (`majority_vote`); the winner's share
    of all samples is the confidence. Extra keyword arguments go into `details`; the
    samples' choices and the invalid count are always recorded (and recomputed when the
    parts are read again). The answer carries the text of the first sample that voted for
    the winner (the last sample when none won), and that sample's evidence record
    (`EVIDENCE_KEYS`), so a vote over a RAG strategy still shows what it was based on."""
    from medq.strategies._shared.fanout import majority_vote

    choices = [a.choice for a in answers]
    winner, share, counts = majority_vote(choices, order)
    truncated = any(a.truncated for a in answers)
    reading = Reading("vote", args={"order": list(order), "details": details},
                      parts=tuple(reading_of(a) for a in answers))
    info = {**details, "votes": counts, "samples": len(answers), "choices": choices,
            "invalid_samples": choices.count(None)}
    carrier = (answers[-1] if answers else None) if winner is None else next(
        a for a in answers if a.choice == winner)
    if carrier is not None:
        info.update({k: carrier.details[k] for k in EVIDENCE_KEYS
                     if k in carrier.details and k not in info})
    if winner is None:
        return Answer(None, Status.INVALID, answers[-1].text if answers else "",
                      truncated=truncated,
                      reason=f"none of the {len(answers)} samples gave a valid answer",
                      details=info, reading=reading)
    text = next(a.text for a in answers if a.choice == winner)
    return Answer(winner, Status.OK, text, truncated=truncated, confidence=share,
                  details=info, reading=reading)


@register_reader("given_choice")
def read_given_choice(reading: Reading, generation: Generation) -> Answer:
    """A released option letter: one of the options, else invalid (never guessed)."""
    letter = generation.text.strip()
    options = list(reading.args["options"])
    if letter in options:
        return Answer(letter, Status.OK, generation.text, details={"method": "choice"})
    reason = (f"choice {letter!r} is not an option ({', '.join(options)})"
              if letter else "empty choice")
    return Answer(None, Status.INVALID, generation.text, reason=reason,
                  details={"method": None})
