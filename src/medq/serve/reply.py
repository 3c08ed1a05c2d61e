"""From a pipeline's answer to a reply: the abstention rule, the confidence and how it was
computed, the readable message with ``[n]`` citation markers, and the ``medq`` object.

The rule: a pipeline abstains when no answer could be read from the model's output
(medq never guesses a letter), or when it has a threshold and the answer's confidence is
missing or below it. An abstained reply says so in its first words, names no answer, and
still carries the votes and the evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medq.serve.evidence import Citation
from medq.serve.questions import AskedQuestion
from medq.types import Answer, Status

__all__ = ["METHODS", "Verdict", "confidence_of", "medq_object", "message", "reasoning_of",
           "verdict"]

_DOCUMENT = re.compile(r"Document\s*\[(\d+)\]")
SOURCES_LISTED = 5  # in the message; every citation is in medq.citations

METHODS = {
    "vote_share": "the share of the strategy's samples that voted for the answer",
    "letter_probability": "the answer letter's probability from the model's first-token "
                          "log-probabilities",
    "option_likelihood": "softmax of the options' log-likelihoods",
    "strategy": "the strategy's own confidence",
}


@dataclass(frozen=True)
class Verdict:
    """The abstention rule applied to one answer."""

    choice: str | None
    abstained: bool
    reason: str | None
    confidence: float | None
    method: str | None
    basis: str | None


def confidence_of(answer: Answer) -> tuple[float | None, str | None, str | None]:
    """``(confidence, method, basis)``: the value, how it was computed (a key of
    `METHODS`), and what it rests on (``4 of 5 samples``)."""
    if answer.confidence is None:
        return None, None, None
    details = answer.details
    votes = details.get("votes")
    if isinstance(votes, Mapping) and "samples" in details:
        count = votes.get(answer.choice, 0)
        return answer.confidence, "vote_share", f"{count} of {details['samples']} samples"
    method = details.get("method")
    if method == "letter_logprob":
        return answer.confidence, "letter_probability", "first-token log-probabilities"
    if method == "option_loglikelihood":
        return answer.confidence, "option_likelihood", "option log-likelihoods"
    return answer.confidence, "strategy", None


def verdict(answer: Answer, threshold: float | None) -> Verdict:
    """Apply the abstention rule (see the module docstring)."""
    value, method, basis = confidence_of(answer)
    if answer.status is not Status.OK or answer.choice is None:
        why = answer.reason or "no answer found"
        return Verdict(None, True, f"no answer could be read from the model's output ({why})",
                       None, None, None)
    if threshold is None:
        return Verdict(answer.choice, False, None, value, method, basis)
    if value is None:
        return Verdict(None, True, f"the strategy gives no confidence, and this pipeline "
                       f"answers only at confidence {threshold:.2f} or more", None, None, None)
    if value < threshold:
        on = f"{str(method).replace('_', ' ')}: {basis}" if basis else str(method)
        return Verdict(None, True, f"its confidence {value:.2f} ({on}) is below the "
                       f"pipeline's threshold {threshold:.2f}", value, method, basis)
    return Verdict(answer.choice, False, None, value, method, basis)


def reasoning_of(text: str) -> str:
    """The model's reasoning, readable: MedRAG's JSON ``step_by_step_thinking`` when the
    text is that JSON, else the text; ``Document [n]`` becomes ``[n]``."""
    body = text.strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("step_by_step_thinking"), str):
        body = parsed["step_by_step_thinking"].strip()
    return _DOCUMENT.sub(lambda m: f"[{m.group(1)}]", body)


def _source_lines(cites: Sequence[Citation]) -> list[str]:
    named = [c for c in cites if c.cited]
    listed = named or [c for c in cites if c.shown] or list(cites)
    lines = [f"[{c.n}] {c.title or c.id} ({c.source})" for c in listed[:SOURCES_LISTED]]
    if len(listed) > SOURCES_LISTED:
        lines.append(f"… and {len(listed) - SOURCES_LISTED} more (see medq.citations)")
    return lines


def message(asked: AskedQuestion, answer: Answer, judged: Verdict, threshold: float | None,
            cites: Sequence[Citation]) -> str:
    """The reply's readable text (``choices[0].message.content``)."""
    lines: list[str] = []
    if judged.abstained:
        lines.append(f"No answer: the pipeline abstained, because {judged.reason}.")
        votes = answer.details.get("votes")
        if isinstance(votes, Mapping) and votes:
            lines.append("Votes: " + ", ".join(f"{k} {v}" for k, v in votes.items()) + ".")
        if cites:
            lines += ["", "Evidence retrieved:", *_source_lines(cites)]
        return "\n".join(lines)
    choice = judged.choice or ""
    lines.append(f"{choice}. {asked.options.get(choice, '')}".rstrip())
    reasoning = reasoning_of(answer.text)
    if reasoning:
        lines += ["", reasoning]
    if judged.confidence is not None:
        basis = f": {judged.basis}" if judged.basis else ""
        bar = f"; the pipeline answers from {threshold:.2f}" if threshold is not None else ""
        lines += ["", f"Confidence {judged.confidence:.2f} "
                  f"({str(judged.method).replace('_', ' ')}{basis}{bar})."]
    if cites:
        lines += ["", "Sources:", *_source_lines(cites)]
    return "\n".join(lines)


def medq_object(*, asked: AskedQuestion, answer: Answer, judged: Verdict,
                threshold: float | None, calibration: Mapping[str, Any] | None,
                cites: Sequence[Citation], pipeline: str, pipeline_hash: str,
                calls: Mapping[str, Any], latency_ms: float, request_id: str,
                ignored: Sequence[str]) -> dict[str, Any]:
    """The reply's top-level ``medq`` object (documented in `medq.serve.wire`)."""
    return {
        "answer": judged.choice,
        "answer_text": asked.options.get(judged.choice) if judged.choice else None,
        "confidence": judged.confidence,
        "confidence_method": judged.method,
        "confidence_basis": judged.basis,
        "threshold": threshold,
        "calibration": dict(calibration) if calibration else None,
        "votes": dict(answer.details["votes"]) if isinstance(
            answer.details.get("votes"), Mapping) else None,
        "abstained": judged.abstained,
        "abstention_reason": judged.reason,
        "citations": [c.to_json() for c in cites],
        "question": asked.to_json(),
        "pipeline": pipeline,
        "pipeline_hash": pipeline_hash,
        "calls": dict(calls),
        "latency_ms": latency_ms,
        "request_id": request_id,
        "ignored": list(ignored),
    }
