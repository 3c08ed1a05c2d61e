"""Typed values that cross medq's seams: questions, model requests and completions, answers.

Everything here is a frozen dataclass so values can be hashed, cached and compared, and so
no component can mutate another's data behind its back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Question:
    """One benchmark item.

    Attributes:
        id: the item's ID in its original release (stable across loaders).
        stem: the question text.
        options: option letter -> option text, in presentation order ("A", "B", ...);
            empty for open-answer tasks (calculations, corrections).
        gold: the correct option letter, or the reference answer of an open-answer task.
        context: supporting text shown with the question (PubMedQA abstracts), or None.
        metadata: subject, specialty, exam_step, language, source, topic, difficulty, ...
    """

    id: str
    stem: str
    options: Mapping[str, str]
    gold: str
    context: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen_mapping(self.options))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))
        if self.options and self.gold not in self.options:
            raise ValueError(f"question {self.id}: gold {self.gold!r} is not an option letter")

    def __hash__(self) -> int:
        return hash((self.id, self.stem, tuple(self.options.items()), self.gold))


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """A chat-completion request, independent of any backend.

    `sample_index` distinguishes repeated samples of the same prompt in the cache key, so
    sampled calls are distinct yet reproducible.
    """

    messages: tuple[Message, ...]
    n: int = 1
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int | None = None
    sample_index: int = 0

    def params(self) -> dict[str, Any]:
        """Generation parameters as a plain JSON-able dict (used in cache keys and logs)."""
        return {
            "n": self.n,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
            "sample_index": self.sample_index,
        }


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives at that step."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    """One of the n choices returned for a request."""

    text: str
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def truncated(self) -> bool:
        """True when the model stopped because it hit max_tokens."""
        return self.finish_reason == "length"


@dataclass(frozen=True)
class Completion:
    """A backend's answer to a GenerationRequest."""

    generations: tuple[Generation, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score each continuation given one shared context (option log-likelihood scoring)."""

    context: tuple[Message, ...]
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class ContinuationScore:
    """Log-likelihood of one continuation; `n_chars` feeds length normalisation."""

    logprob: float
    n_tokens: int
    n_chars: int
    is_greedy: bool = False


class Capability(enum.Enum):
    """What a model backend can serve."""

    GENERATE = "generate"
    TOP_LOGPROBS = "top_logprobs"
    LOGLIKELIHOOD = "loglikelihood"


class Status(enum.StrEnum):
    """Outcome of one item."""

    OK = "ok"  # an answer was extracted (may be right or wrong)
    INVALID = "invalid"  # the model answered but no option could be extracted
    ERROR = "error"  # the model could not be reached / failed after retries


@dataclass(frozen=True)
class Answer:
    """A strategy's final answer for one question.

    Attributes:
        choice: the chosen option letter, or None when invalid or error.
        status: ok / invalid / error.
        text: the final response text the choice was extracted from.
        truncated: any response behind this answer stopped at max_tokens.
        confidence: probability or vote share of `choice`, when the strategy has one.
        reason: why the item is invalid or an error.
        details: strategy-specific extras (votes, option scores, acc_norm choice, ...).
    """

    choice: str | None
    status: Status
    text: str = ""
    truncated: bool = False
    confidence: float | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
