"""Answer extraction: a model's response text -> the option it committed to, or invalid.

A response is read as a sequence of answer statements, each classified by what it does
(`medq.scoring.extraction.commitment`):

1. statements: a JSON object with an answer key (also fenced, inside prose, nested, or
   slightly malformed), ``\\boxed{C}``, answer phrases ("Answer: C", "The correct answer
   is (C)", "La respuesta correcta es la C", "答案：C"), first-person and copular forms
   ("I choose C", "I think it's C", "C is the answer"), "Therefore, C.", "the most likely
   diagnosis is Pneumonia", and whole lines ("C", "c) Pulmonary embolism", "9/10 (90%)");
2. each is a *commitment*, a *retraction* ("wait, no"; "it is not C"), a *correction*
   ("Actually, D."), a *conditional* ("had the onset been gradual, the answer would be
   A"), *someone else's view* ("colleagues might think C"), a hedge, or a look at an
   option under review ("Is it C?");
3. the last commitment wins, explicit forms (JSON, boxed, answer phrases) over lenient
   ones; a retraction cancels the commitment it names, and with nothing after it the
   response is invalid;
4. with no statement at all, an option mentioned alone ("surgery (option C)") counts.

Choices are option keys only, whatever the task's labels are (A-E, a-e, 1-5, I-V,
Ⅰ-Ⅴ, another script's letters). A label stated as the answer that is not an option ("E"
on a four-option question) makes the response invalid; it is never skipped in favour of
another. A letter whose attached text is another option's ("C. Asthma" when Asthma is B)
is a conflict; several letters at once ("A or C", "B and D") are several answers. A bare
"a" or "I" counts only where clearly marked ("answer: a", "(a)"), so "A 45-year-old man"
is never answer A. Reasoning blocks (``<think>`` and kin) are removed first; one that
never closes makes the response invalid. There is no "most similar option" matching and
no default letter: a response that cannot be read is invalid, with a reason from
:data:`INVALID_REASONS`.

Languages are data: the answer phrases, negations, hedges and yes/no words of each
language are a lexicon file (`medq.scoring.extraction.lexicon`); a task's language selects
its lexicon, with English always on. Full-width letters and punctuation are folded.

Bump :data:`EXTRACTOR_VERSION` on any change of behaviour: stored results record it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from medq.scoring.extraction.lexicon import UnknownLanguageError, available_languages
from medq.scoring.extraction.reading import (
    INVALID_REASONS,
    Extraction,
    MultiExtraction,
    read_choice,
    read_choices,
)
from medq.scoring.extraction.text import strip_reasoning

__all__ = [
    "EXTRACTOR_VERSION",
    "INVALID_REASONS",
    "Extraction",
    "MultiExtraction",
    "UnknownLanguageError",
    "available_languages",
    "extract_choice",
    "extract_choices",
    "strip_reasoning",
]

EXTRACTOR_VERSION = "2"


def extract_choice(text: str, options: Mapping[str, str], *,
                   languages: Sequence[str] = ("en",)) -> Extraction:
    """Read the option a response committed to.

    Args:
        text: the model's response.
        options: option key -> option text, in order, e.g. ``{"A": "...", "B": "..."}``;
            keys are the task's labels (``"a"``, ``"1"``, ``"III"``, ...); for PubMedQA /
            BioASQ ``{"A": "yes", "B": "no", "C": "maybe"}``.
        languages: the task's languages ("es", "zh", "pt-BR", ...); English is always on.

    Returns:
        An :class:`Extraction`: ``choice`` is ``None`` when the response is invalid, and
        then ``reason`` is one of :data:`INVALID_REASONS`; ``span`` locates the deciding
        statement in `text`.

    Raises:
        ValueError: when ``options`` is empty or its keys are not labels of one kind.
        UnknownLanguageError: a language medq has no lexicon for.

    Example:
        >>> extract_choice("The answer is B. Wait, no, it's D.",
        ...                {"A": "Flu", "B": "Cold", "C": "Asthma", "D": "Pneumonia"}).choice
        'D'
        >>> extract_choice("La respuesta correcta es la C.", {"A": "x", "B": "y", "C": "z"},
        ...                languages=("es",)).choice
        'C'
    """
    return read_choice(text, options, languages)


def extract_choices(text: str, options: Mapping[str, str], *,
                    languages: Sequence[str] = ("en",)) -> MultiExtraction:
    """Read the set of options a multiple-answer response chose ("B, C et D", "BCD",
    ``{"answers": ["B", "D"]}``); invalid when any label named is not an option.

    Example:
        >>> sorted(extract_choices("Réponses : B, C et D", dict.fromkeys("abcde", ""),
        ...                        languages=("fr",)).choices)
        ['b', 'c', 'd']
    """
    return read_choices(text, options, languages)
