"""Masking the question stem: how far above chance is a model without the question?

Gururangan, S., Swayamdipta, S., Levy, O., Schwartz, R., Bowman, S. R., & Smith, N. A.
(2018). Annotation Artifacts in Natural Language Inference Data. NAACL 2018 (hypothesis-
only baselines); Balepur, N., Ravichander, A., & Rudinger, R. (2024). Artifacts or
Abduction: How Do LLMs Answer Multiple-Choice Questions Without the Question? ACL 2024
(choices-only prompts score well above chance on medical and other exams).

A seeded share of the stem's words (``stem=0.25``, ``0.5``, ``1.0``) is replaced by a
placeholder; adjacent masked words become one placeholder, so ``stem=1.0`` leaves only
the placeholder and the options. The context (an abstract) and the options are kept.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from medq.probes.base import ProbeSpecError, Transform, Variant, probes
from medq.seeds import item_rng
from medq.strategies._shared.params import Range
from medq.types import Question

Share = Annotated[float, Range(0.0, 1.0)]
_SPACE = re.compile(r"(\s+)")
_MASKED = "\x00"  # stands for a masked word until runs are merged; never in a stem
_RUN = re.compile(r"\x00(?:\s+\x00)+")


def _canonical(name: str, given: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    if filled["stem"] <= 0:
        raise ProbeSpecError(f"probe {name!r}: stem={filled['stem']} masks nothing; give a "
                             f"share in (0, 1], e.g. mask:stem=0.5")
    if not filled["token"].strip():
        raise ProbeSpecError(f"probe {name!r}: token must not be blank")
    return filled


@probes.register(canonical=_canonical)
def mask(stem: Share = 1.0, token: str = "___", *, seed: int = 0) -> Transform:
    """Replace a share of the stem's words with a placeholder.

    Args:
        stem: the share of the stem's words masked (0 < stem <= 1), rounded to the
            nearest word (at least one).
        token: the placeholder.
        seed: the run's seed (which words are masked is drawn per item).
    """

    def transform(question: Question) -> list[Variant]:
        n_words = len(question.stem.split())
        count = min(n_words, max(1, math.floor(stem * n_words + 0.5)))
        if count == n_words:
            text = token
        else:
            parts = _SPACE.split(question.stem)  # words at even indices, whitespace between
            words = [i for i in range(0, len(parts), 2) if parts[i]]
            for i in item_rng(seed, question.id, "mask").sample(words, count):
                parts[i] = _MASKED
            # One placeholder for each run of masked words.
            text = _RUN.sub(_MASKED, "".join(parts)).replace(_MASKED, token)
        item = Question(question.id, text, question.options, question.gold, question.context,
                        question.metadata, question.images)
        tag = f"mask{round(stem * 100)}"
        return [Variant(tag, item, {k: k for k in question.options},
                        {"masked": count, "words": n_words})]

    return transform
