"""What an interactive item knows about its patient: the opening information, the whole
case, and its atomic facts.

Li et al., NeurIPS 2024 (MediQ): the expert starts from the initial information (the first
context sentence, or the record's own ``initial_info``) and learns the rest only by asking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medq.strategies._shared.spec import StrategySpecError
from medq.types import Question

_LIST_MARKER = re.compile(r"^\s*(?:\d+\s*[.)]|[-*\u2022])\s+")


def strip_marker(text: str) -> str:
    """A statement without its list numbering or bullet (``"3. He has a fever."`` ->
    ``"He has a fever."``)."""
    return _LIST_MARKER.sub("", text, count=1).strip()


@dataclass(frozen=True)
class Case:
    """One patient's case.

    Attributes:
        initial: the information the expert starts with.
        sentences: the whole case, one sentence each.
        facts: the case's atomic facts, or None when the item has none (a ``factselect``
            patient then derives them from the case with one call).
    """

    initial: str
    sentences: tuple[str, ...]
    facts: tuple[str, ...] | None

    @property
    def paragraph(self) -> str:
        """The whole case as one paragraph (the sentences joined by a space)."""
        return " ".join(self.sentences)


def case_of(question: Question) -> Case:
    """The case of an interactive item (tasks ``imedqa`` and ``icraftmd``).

    Raises:
        StrategySpecError: the item carries no case (``initial_info`` and
            ``context_sentences`` in its metadata).
    """
    meta = question.metadata
    initial, sentences = meta.get("initial_info"), meta.get("context_sentences")
    if not isinstance(initial, str) or sentences is None:
        raise StrategySpecError(
            f"item {question.id!r} is not an interactive case (no 'initial_info' and "
            f"'context_sentences' in its metadata); interactive strategies answer the "
            f"tasks imedqa and icraftmd"
        )
    facts = meta.get("facts")
    return Case(initial, tuple(sentences), tuple(facts) if facts is not None else None)
