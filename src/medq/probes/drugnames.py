"""Brand <-> generic drug-name swaps: does the model know the drug, or the string?

Gallifant, J., Chen, S., Moreira, P., Munch, N., Gao, M., Pond, J., Celi, L. A., Aerts, H.,
Hartvigsen, T., & Bitterman, D. S. (2024). Language Models are Surprisingly Fragile to Drug
Names in Biomedical Benchmarks. Findings of EMNLP 2024 (RABBITS: 1-10 points lost on MedQA
and MedMCQA when generic names become brand names).

The mapping is a file the user gives (``drugnames:mapping=PATH``): a CSV with columns
``generic`` and ``brand``, a brand cell holding one name, names separated by ``;``, or a
Python-literal list of names (nested lists are flattened), as RABBITS'
``generic_to_brand.csv`` does. medq ships no mapping: RABBITS' file carries no licence.

Every whole-word occurrence (case-insensitive; a hyphen ends a word, as ``\\b`` does) in
the stem, the options and the context is swapped, keeping the word's capitalisation.
Brands listed under more than one generic are combination products (Vicoprofen is
hydrocodone and ibuprofen), so they are never used, in either direction. A generic with
several brands gets one, drawn per drug from the run's seed, the same in every item.
Items with nothing to swap are left out (counted), unless ``keep_unswapped=true``.
"""

from __future__ import annotations

import ast
import csv
import functools
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from medq.probes.base import ProbeSpecError, Skipped, Transform, Variant, probes
from medq.seeds import item_rng
from medq.types import Question

Direction = Literal["generic_to_brand", "brand_to_generic"]


def _canonical(name: str, given: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    """The mapping as an absolute path, so two spellings of one file are one probe."""
    filled["mapping"] = str(Path(filled["mapping"]).expanduser().resolve())
    return filled


def read_mapping(path: Path) -> dict[str, list[str]]:
    """generic -> its brand names, lower case, from a ``generic,brand`` CSV.

    Raises:
        ProbeSpecError: the file is missing or malformed (file, line and field named).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProbeSpecError(f"probe 'drugnames': mapping {path}: "
                             f"{exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"generic", "brand"} - set(reader.fieldnames or ())
    if missing:
        raise ProbeSpecError(f"probe 'drugnames': {path}, line 1: no column(s) "
                             f"{sorted(missing)} (needs generic, brand)")
    out: dict[str, list[str]] = {}
    for line, row in enumerate(reader, start=2):
        generic = (row["generic"] or "").strip().lower()
        cell = (row["brand"] or "").strip()
        if not generic or not cell:
            raise ProbeSpecError(f"probe 'drugnames': {path}, line {line}: field "
                                 f"{'generic' if not generic else 'brand'!r} is empty")
        out.setdefault(generic, []).extend(
            b for b in _names(cell, path, line) if b not in out.get(generic, []))
    return out


def _names(cell: str, path: Path, line: int) -> list[str]:
    if not cell.startswith("["):
        return [n.strip().lower() for n in cell.split(";") if n.strip()]
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        raise ProbeSpecError(f"probe 'drugnames': {path}, line {line}: field 'brand' is "
                             f"not a list of names: {cell[:60]!r}") from None
    flat: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, list | tuple):
            stack[:0] = list(item)
        elif isinstance(item, str) and item.strip():
            flat.append(item.strip().lower())
    return flat


def _swaps(mapping: Mapping[str, list[str]], direction: str, seed: int) -> dict[str, str]:
    """word -> its replacement, single-ingredient brands only."""
    owners: dict[str, set[str]] = {}
    for generic, brands in mapping.items():
        for brand in brands:
            owners.setdefault(brand, set()).add(generic)
    single = {b for b, g in owners.items() if len(g) == 1 and b not in mapping}
    if direction == "brand_to_generic":
        return {b: next(iter(owners[b])) for b in sorted(single)}
    out = {}
    for generic, brands in mapping.items():
        usable = [b for b in brands if b in single]
        if usable:
            out[generic] = item_rng(seed, f"drug:{generic}", "drugnames").choice(usable)
    return out


def _cased(word: str, like: str) -> str:
    if len(like) > 1 and like.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


class _Swapper:
    """Swaps every whole-word name of `swaps` in a text, longest name first (as ``\\b``
    does, a hyphen ends a word). Words are looked up in a set before any regex runs, so
    texts without a drug name cost one tokenisation."""

    def __init__(self, swaps: Mapping[str, str]) -> None:
        self.swaps = swaps
        self.by_first: dict[str, list[str]] = {}
        for name in swaps:
            self.by_first.setdefault(name.split("-")[0], []).append(name)

    def __call__(self, text: str, done: dict[str, str]) -> str:
        words = set(_WORDS.findall(text.lower()))
        found = [name for word in words & self.by_first.keys()
                 for name in self.by_first[word]
                 if "-" not in name or all(p in words for p in name.split("-"))]
        if not found:
            return text
        swaps = self.swaps

        def one(match: re.Match[str]) -> str:
            key = match.group().lower()
            done[key] = swaps[key]
            return _cased(swaps[key], match.group())

        return _pattern(frozenset(found)).sub(one, text)


_WORDS = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def _pattern(names: frozenset[str]) -> re.Pattern[str]:
    ordered = sorted(names, key=lambda n: (-len(n), n))
    return re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b", re.IGNORECASE)


@probes.register(canonical=_canonical)
def drugnames(mapping: str, direction: Direction = "generic_to_brand",
              keep_unswapped: bool = False, *, seed: int = 0) -> Transform:
    """Swap drug names between generic and brand in stem, options and context.

    Args:
        mapping: path to a ``generic,brand`` CSV (e.g. RABBITS' generic_to_brand.csv).
        direction: generic_to_brand (as RABBITS reports) or brand_to_generic.
        keep_unswapped: keep items with no drug name to swap (default: leave them out).
        seed: the run's seed (which brand a generic becomes is drawn per drug).
    """
    swaps = _swaps(read_mapping(Path(mapping)), direction, seed)
    if not swaps:
        raise ProbeSpecError(f"probe 'drugnames': {mapping} gives no single-ingredient "
                             f"{direction.replace('_', ' ')} pair")

    swap = _Swapper(swaps)

    def transform(question: Question) -> list[Variant]:
        done: dict[str, str] = {}
        options = {k: swap(v, done) for k, v in question.options.items()}
        context = None if question.context is None else swap(question.context, done)
        item = Question(question.id, swap(question.stem, done), options, question.gold,
                        context, question.metadata, question.images)
        if not done and not keep_unswapped:
            raise Skipped("no drug name from the mapping")
        tag = "g2b" if direction == "generic_to_brand" else "b2g"
        return [Variant(tag, item, {k: k for k in question.options},
                        {"swaps": dict(sorted(done.items()))})]

    return transform
