"""The probe mechanism: a probe is a seeded transform of one multiple-choice item into
one or more items (`Variant`s), registered like a strategy and composed in order.

A probe spec reads like a strategy spec (``permute:mode=cyclic``, ``nota``,
``mask:stem=0.5``); its parameters are typed in the factory's signature and documented in
its docstring, and `normalize_probe` checks them and fills the defaults in, so two
spellings of one probe are one spec, and so one run. The factory gets the run's ``seed``
and the task's items (``questions``, e.g. an exemplar pool) injected, and returns a
`Transform`.

Every probed item keeps what scoring and the robustness metrics need in
``metadata["probe"]`` (see `apply_probes`): the original item's ID and gold letter, the
variant's tag and the map from each presented letter back to the original letter.
Items are scored against the *presented* gold (the letter the model saw), so the stored
record, `medq rescore` and every accuracy reader stay the one rule; because the map is
a bijection on the options both share, a presented answer is correct exactly when its
original letter is the original gold. The map is kept for what needs the original
letters: flip rate (did the model pick the same original option under every
permutation?) and answers pointing at an option a probe added.
"""

from __future__ import annotations

import gc
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medq.registry import Registry, UnknownNameError
from medq.strategies._shared.params import (
    Parameter,
    _arg_help,
    _coerce,
    _hints,
    _split,
    type_name,
)
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.types import LETTERS, Question

__all__ = [
    "INJECTED", "ProbeSpecError", "ProbedItems", "Skipped", "Transform", "Variant",
    "apply_probes", "build_probe", "normalize_probe", "probe_grading", "probe_label",
    "probe_parameters", "probe_task", "probes", "relabel",
]

INJECTED = frozenset({"seed", "questions"})
"""Parameters the runner passes itself (the run's seed, the task's items); never in a spec."""

probes: Registry[Callable[..., Any]] = Registry("probe", "medq.probes", "medq.probes")
"""Probe name -> factory; built-ins are the public modules of `medq.probes`."""


class ProbeSpecError(StrategySpecError):
    """A probe spec that cannot be parsed, names an unknown probe or parameter, or does
    not fit the task (one line, before any model call)."""


class Skipped(Exception):
    """Raised by a transform for an item the probe cannot apply to (a question with no
    drug name to swap); the item is left out of the probed run and counted by reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Variant:
    """One transformed item.

    Attributes:
        tag: names the variant among the item's variants (``shift1``, ``nota``); it
            becomes part of the item ID, so it must be unique per item and ID-safe.
        question: the transformed item (its ID is set by `apply_probes`).
        letters: each presented option letter -> the letter of that option in the input
            item, or None for an option the probe added.
        notes: what the probe did, for the record (the bias's letter, the words swapped).
    """

    tag: str
    question: Question
    letters: Mapping[str, str | None]
    notes: Mapping[str, Any] = field(default_factory=dict)


Transform = Callable[[Question], Sequence[Variant]]
"""What a probe factory returns: one item -> its variants (or raise `Skipped`)."""


@dataclass(frozen=True)
class ProbedItems:
    """The items a probed run evaluates, and how each probe changed the count.

    Attributes:
        questions: the variants, grouped by original item, in the task's order.
        counts: per probe spec: ``items_in``, ``items_out`` and ``skipped`` (reason ->
            count of input items the probe left out).
    """

    questions: list[Question]
    counts: list[dict[str, Any]]


def relabel(
    question: Question, order: Sequence[str | None], *, texts: Mapping[str, str] | None = None,
    gold: str | None = None,
) -> tuple[Question, dict[str, str | None]]:
    """`question` with its options presented in `order` (input letters, or None for an
    added option whose text `texts` gives under its presented letter) and lettered A, B, …

    Returns the new item and its letter map (presented -> input letter). The gold follows
    its option unless `gold` (a presented letter) is given.

    Example:
        >>> q2, back = relabel(q, ["B", "C", "D", "A"])   # a cyclic shift by one
        >>> back
        {'A': 'B', 'B': 'C', 'C': 'D', 'D': 'A'}
    """
    options: dict[str, str] = {}
    back: dict[str, str | None] = {}
    new_gold = gold
    for i, source in enumerate(order):
        letter = LETTERS[i]
        if source is None:
            options[letter] = (texts or {})[letter]
        else:
            options[letter] = question.options[source]
            if gold is None and source == question.gold:
                new_gold = letter
        back[letter] = source
    if new_gold is None:
        raise ValueError(f"item {question.id!r}: its gold option was not presented")
    return Question(question.id, question.stem, options, new_gold, question.context,
                    question.metadata, question.images), back


def _probe_error(name: str, message: str) -> ProbeSpecError:
    return ProbeSpecError(f"probe {name!r}: {message}")


def _factory(name: str) -> Callable[..., Any]:
    try:
        return probes.get(name)
    except UnknownNameError as exc:
        raise ProbeSpecError(str(exc)) from None


def _check(name: str, param: str, value: Any, hint: Any) -> Any:
    """`value` in its declared type (Literal choices and Range bounds included)."""
    if hint is None:
        return value
    base, bounds = _split(hint)
    choices = _literal_choices(base)
    if choices is not None:
        if value not in choices:
            allowed = ", ".join(str(c) for c in choices)
            raise _probe_error(name, f"parameter {param}={value!r} must be one of {allowed}")
        return value
    accepted, converted = _coerce(value, hint)
    if not accepted:
        raise _probe_error(name, f"parameter {param}={value!r} must be {type_name(hint)}")
    if bounds is not None and isinstance(converted, int | float) and not isinstance(
        converted, bool
    ):
        problem = bounds.check(converted)
        if problem:
            raise _probe_error(name, f"parameter {param}={value!r} must be {problem}")
    return converted


def _literal_choices(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal[...]`` annotation (``| None`` adds None)."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    alternatives = typing.get_args(hint) if typing.get_origin(hint) in (
        typing.Union, types.UnionType) else ()
    literals = [a for a in alternatives if typing.get_origin(a) is typing.Literal]
    if literals and all(a is type(None) or a in literals for a in alternatives):
        values: list[Any] = [v for a in literals for v in typing.get_args(a)]
        if type(None) in alternatives:
            values.append(None)
        return tuple(values)
    return None


def normalize_probe(spec: StrategySpec | str) -> StrategySpec:
    """The probe spec with every parameter checked and every default filled in.

    A probe may declare ``canonical=fn`` at registration: ``fn(name, given, filled)``
    settles parameters that depend on each other (``permute:gold_at=D`` means
    ``mode=gold_at``) and drops the ones its mode ignores, raising ProbeSpecError for a
    combination that makes no sense.

    Raises:
        ProbeSpecError: an unknown probe or parameter, a missing one, a value of the
            wrong type or out of range.

    Example:
        >>> str(normalize_probe("permute"))
        'permute:mode=cyclic'
    """
    try:
        spec = StrategySpec.coerce(spec)
    except StrategySpecError as exc:
        raise ProbeSpecError(str(exc).replace("strategy", "probe", 1)) from None
    factory = _factory(spec.name)
    signature = inspect.signature(factory).parameters
    accepted = {n for n in signature if n not in INJECTED}
    unknown = set(spec.params) - accepted
    if unknown:
        raise _probe_error(spec.name, f"has no parameter(s) {sorted(unknown)}; it takes "
                           f"{sorted(accepted) or 'none'} (see `medq probes`)")
    hints = _hints(factory)
    filled: dict[str, Any] = {}
    for name in sorted(accepted):
        param = signature[name]
        if name in spec.params:
            filled[name] = _check(spec.name, name, spec.params[name], hints.get(name))
        elif param.default is inspect.Parameter.empty:
            raise _probe_error(spec.name, f"needs parameter {name!r}")
        else:
            filled[name] = param.default
    canonical = probes.meta(spec.name).get("canonical")
    if canonical is not None:
        filled = canonical(spec.name, dict(spec.params), filled)
    return StrategySpec(spec.name, filled)


def build_probe(
    spec: StrategySpec | str, *, seed: int, questions: Sequence[Question] = ()
) -> Transform:
    """The transform of a (normalised) probe spec, given the run's seed and the task's
    items (`questions`, e.g. for exemplars drawn from other items)."""
    spec = normalize_probe(spec)
    factory = _factory(spec.name)
    kwargs = dict(spec.params)
    signature = inspect.signature(factory).parameters
    if "seed" in signature:
        kwargs["seed"] = seed
    if "questions" in signature:
        kwargs["questions"] = tuple(questions)
    return factory(**kwargs)


def probe_label(spec: StrategySpec | str) -> str:
    """A probe spec for people: normalised, without free-text, flag and None parameters
    left at their default (``nota:mode=replace_gold``, not ``…,text=None of the other
    answers``); modes, counts and shares always show. Identities keep every parameter."""
    spec = normalize_probe(spec)
    factory = _factory(spec.name)
    signature = inspect.signature(factory).parameters
    hints = _hints(factory)

    def quiet(name: str, value: Any) -> bool:
        param = signature.get(name)
        if param is None or param.default is inspect.Parameter.empty or value != param.default:
            return False
        free_text = isinstance(value, str) and _literal_choices(
            _split(hints.get(name))[0]) is None
        return value is None or isinstance(value, bool) or free_text

    return str(StrategySpec(spec.name, {k: v for k, v in spec.params.items()
                                        if not quiet(k, v)}))


def probe_parameters(name: str) -> list[Parameter]:
    """The spec parameters of probe `name`, with types, defaults and meanings."""
    factory = _factory(name)
    hints = _hints(factory)
    helps = _arg_help(inspect.getdoc(factory) or "")
    out = []
    for pname, param in inspect.signature(factory).parameters.items():
        if pname in INJECTED:
            continue
        required = param.default is inspect.Parameter.empty
        out.append(Parameter(pname, type_name(hints[pname]) if pname in hints else "any",
                             None if required else param.default, required,
                             helps.get(pname, "")))
    return out


def apply_probes(
    questions: Sequence[Question],
    specs: Sequence[StrategySpec | str],
    *,
    seed: int,
    pool: Sequence[Question] | None = None,
) -> ProbedItems:
    """Apply the probes in order (each to every variant the previous one made).

    Each final item's ID is ``<original ID>~<tag>[~<tag>…]`` and its metadata gains
    ``probe``: ``of`` (the original ID), ``gold`` (the original gold letter),
    ``variant`` (the joined tags), ``letters`` (presented letter -> original letter, None
    for an option a probe added) and ``notes`` (per probe name, what it did).

    Args:
        questions: the items to probe (the run's items, after any limit).
        specs: probe specs, applied in this order.
        seed: the run's seed (every random choice is per item: `medq.seeds.item_rng`).
        pool: the task's items for probes that draw from other items (default: questions).

    Raises:
        ProbeSpecError: a bad spec, or a probe that cannot apply to an item at all.
    """
    # Probing allocates a few small acyclic objects per variant on top of the task's live
    # items; the cyclic collector's passes over that heap cost more than the probing
    # itself (10,000 items, 40,000 variants: 1.1 s with them, 0.45 s without).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _apply(questions, specs, seed=seed, pool=pool)
    finally:
        if was_enabled:
            gc.enable()


def _apply(questions: Sequence[Question], specs: Sequence[StrategySpec | str], *, seed: int,
           pool: Sequence[Question] | None) -> ProbedItems:
    steps = [(str(normalize_probe(s)), build_probe(s, seed=seed,
                                                   questions=pool or questions))
             for s in specs]
    current: list[tuple[Question, Question, dict[str, str | None], list[str], dict[str, Any]]]
    current = [(q, q, {k: k for k in q.options}, [], {}) for q in questions]
    counts = []
    for text, transform in steps:
        name = StrategySpec.parse(text).name
        nxt = []
        skipped: dict[str, int] = {}
        originals_in = {orig.id for orig, *_ in current}
        for orig, item, back, tags, notes in current:
            try:
                variants = transform(item)
            except Skipped as why:
                skipped[why.reason] = skipped.get(why.reason, 0) + 1
                continue
            for v in variants:
                composed = {p: (back[i] if i is not None else None) for p, i in v.letters.items()}
                nxt.append((orig, v.question, composed, [*tags, v.tag],
                            {**notes, name: dict(v.notes)} if v.notes else notes))
        counts.append({"probe": text, "items_in": len(originals_in),
                       "items_out": len({orig.id for orig, *_ in nxt}), "variants": len(nxt),
                       "skipped": skipped})
        current = nxt
    out = []
    for orig, item, back, tags, notes in current:
        variant = "~".join(tags)
        metadata = dict(item.metadata)
        metadata["probe"] = {"of": orig.id, "gold": orig.gold, "variant": variant,
                             "letters": back, "notes": notes}
        out.append(Question(f"{orig.id}~{variant}", item.stem, item.options, item.gold,
                            item.context, metadata, item.images))
    return ProbedItems(out, counts)


def probe_grading(specs: Sequence[str]) -> Any | None:
    """The grading a probe brings with it, or None (probes keep the task's own grading).

    A probe registered with ``grading=G`` changes how answers are read and scored
    (``open_ended``: the options removed, a judge grades the free-text reply): ``G`` has
    ``apply(task) -> task`` (answer kind, scorer, grader, prompts) and the ``scorer`` and
    ``grader`` a rescore needs without the data. It must be the last probe, since the
    items it makes are no longer multiple choice, and only one probe may bring one.

    Raises:
        ProbeSpecError: such a probe is not last.
    """
    found = [(i, probes.meta(StrategySpec.coerce(s).name).get("grading"))
             for i, s in enumerate(specs)]
    brought = [(i, g) for i, g in found if g is not None]
    if not brought:
        return None
    if len(brought) > 1 or brought[0][0] != len(specs) - 1:
        name = StrategySpec.coerce(specs[brought[0][0]]).name
        raise ProbeSpecError(f"probe {name!r} changes how answers are graded: it must be the "
                             f"last probe, and the only one that does")
    return brought[0][1]


def probe_task(
    task: Any, questions: Sequence[Question], specs: Sequence[str], *, seed: int
) -> tuple[list[Question], dict[str, Any], dict[str, Any]]:
    """The probed items of a run, the probes' part of its identity, and its info.

    The identity holds the normalised specs and the content hash of the probed items, so
    a change in what a probe generates is a new run, never a resumed one.

    Raises:
        ProbeSpecError: the task is not multiple choice, a spec is bad, or the probes
            leave no item to evaluate.
    """
    from medq.runner import data_hash

    if task.answer_kind != "choice":
        raise ProbeSpecError(
            f"probes apply to multiple-choice tasks only; task {task.name!r} has "
            f"{task.answer_kind} answers")
    normalized = [str(normalize_probe(s)) for s in specs]
    probed = apply_probes(questions, normalized, seed=seed, pool=task.questions)
    was_enabled = gc.isenabled()
    gc.disable()  # as in apply_probes: hashing allocates, the heap is large and acyclic
    try:
        items_hash = data_hash(probed.questions)
    finally:
        if was_enabled:
            gc.enable()
    if not probed.questions:
        reasons = "; ".join(f"{c['probe']}: {c['skipped']}" for c in probed.counts)
        raise ProbeSpecError(f"probes {', '.join(normalized)} leave no item of task "
                             f"{task.name!r} to evaluate ({reasons})")
    identity = {"specs": normalized, "items": items_hash}
    return probed.questions, identity, {"specs": normalized, "counts": probed.counts}
