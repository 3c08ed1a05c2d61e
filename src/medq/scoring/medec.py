"""MEDEC / MEDIQA-CORR 2024 scoring: reading a prediction and the shared task's metrics.

Ben Abacha et al., "MEDEC: A Benchmark for Medical Error Detection and Correction in
Clinical Notes" (2024) and the MEDIQA-CORR 2024 shared task (Ben Abacha et al., ClinicalNLP
2024; evaluation scripts in abachaa/MEDIQA-CORR-2024). Three subtasks per clinical text:

- A, error flag accuracy: the predicted flag (1: the text has an error, 0: it has none)
  equals the reference; this is medq's per-item ``correct``;
- B, error sentence accuracy: the predicted sentence ID equals the reference (-1 for a
  text without error; a flag of 0 always predicts -1);
- C, correction: ROUGE-1 F of the corrected sentence against the reference, combined as the
  shared task's composite score: ``(sum of ROUGE-1 F over texts where both the reference
  and the prediction give a correction + number of texts where both give none) / texts``;
  a correction where none is due, or none where one is due, scores 0.

ROUGE-1 F follows the ``rouge`` package (pltrdy, 1.0.1) the official script uses, so the
numbers are comparable: the text is split into segments at every ".", each segment's
whitespace collapsed, and the tokens are the segments split on single spaces (case kept,
punctuation other than "." kept on the word); unigrams are compared as *sets*;
``F = 2PR / (P + R + 1e-8)``. Where the official script would stop on an empty
hypothesis, the score is 0. A candidate correction is whitespace-collapsed and stripped of
surrounding double quotes, as the official submission parser does.

Accuracies are over every answered text: an invalid reply counts as a wrong flag, a wrong
sentence and no correction (the official script counts a missing prediction as false);
items whose model calls failed are excluded and counted, as everywhere in medq.
BERTScore and BLEURT (the shared task's other correction metrics) need their models and
are not computed here (see `bertscore_note`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medq.scoring.extract import strip_reasoning

__all__ = [
    "BERTSCORE_NOTE",
    "MedecPrediction",
    "medec_metrics",
    "read_prediction",
    "rouge1_f",
]

NA = "NA"
BERTSCORE_NOTE = (
    "BERTScore and BLEURT skipped: they need the bert-score / bleurt packages and their "
    "models (microsoft/deberta-xlarge-mnli, BLEURT-20), which medq does not download"
)
_FLAG_KEYS = ("error_flag", "flag", "has_error")
_SENTENCE_KEYS = ("error_sentence_id", "sentence_id", "error_sentence")
_CORRECTION_KEYS = ("corrected_sentence", "correction", "corrected")


@dataclass(frozen=True)
class MedecPrediction:
    """A reply read as the three subtasks' answers, or invalid.

    Attributes:
        flag: 1 (the text has an error) or 0; None when the reply is invalid.
        sentence_id: the ID of the sentence with the error, -1 when flag is 0.
        correction: the corrected sentence, "NA" when flag is 0 or none was given.
        reason: why the reply is invalid.
    """

    flag: int | None
    sentence_id: int = -1
    correction: str = NA
    reason: str | None = None


def read_prediction(text: str) -> MedecPrediction:
    """The last JSON object of the reply with an ``error_flag`` key, read as a prediction.

    Example:
        >>> read_prediction('{"error_flag": 1, "error_sentence_id": 3, '
        ...                 '"corrected_sentence": "Start heparin."}').sentence_id
        3
    """
    body, reason = strip_reasoning(text)
    if reason is not None:
        return MedecPrediction(None, reason=reason)
    found: dict[str, Any] | None = None
    decoder = json.JSONDecoder()
    position = body.find("{")
    while position != -1:
        try:
            obj, end = decoder.raw_decode(body, position)
        except (ValueError, RecursionError):
            position = body.find("{", position + 1)
            continue
        if isinstance(obj, dict) and _get(obj, _FLAG_KEYS) is not None:
            found = obj
        position = body.find("{", end)
    if found is None:
        return MedecPrediction(None, reason='no JSON object with an "error_flag" key')
    flag = _flag(_get(found, _FLAG_KEYS))
    if flag is None:
        return MedecPrediction(None, reason=f"error_flag {_get(found, _FLAG_KEYS)!r} is not 0 or 1")
    if flag == 0:
        return MedecPrediction(0)
    sentence = _integer(_get(found, _SENTENCE_KEYS))
    if sentence is None or sentence < 0:
        return MedecPrediction(
            None, reason=f"error_sentence_id {_get(found, _SENTENCE_KEYS)!r} is not a sentence ID"
        )
    correction = _get(found, _CORRECTION_KEYS)
    return MedecPrediction(1, sentence, clean_correction(correction))


def _get(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {k.strip().lower(): v for k, v in obj.items() if isinstance(k, str)}
    return next((lowered[k] for k in keys if k in lowered), None)


def _flag(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        return {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0}.get(
            value.strip().lower())
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def clean_correction(value: Any) -> str:
    """A candidate correction as the official submission parser leaves it: whitespace
    collapsed, surrounding double quotes removed; "NA" when absent or empty."""
    if not isinstance(value, str):
        return NA
    text = " ".join(value.split())
    while text.startswith('"') and len(text) > 1:
        text = text[1:]
    while text.endswith('"') and len(text) > 1:
        text = text[:-1]
    return text or NA


def _unigrams(text: str) -> set[str]:
    segments = [" ".join(part.split()) for part in text.split(".") if len(part) > 0]
    return set(itertools.chain.from_iterable(s.split(" ") for s in segments))


def rouge1_f(hypothesis: str, reference: str) -> float:
    """ROUGE-1 F as the ``rouge`` package computes it (see the module docstring).

    Example:
        >>> round(rouge1_f("Start heparin now.", "Start heparin."), 4)
        0.8
    """
    if not any(len(p) > 0 for p in hypothesis.split(".")) or not any(
        len(p) > 0 for p in reference.split(".")
    ):
        return 0.0
    hyp, ref = _unigrams(hypothesis), _unigrams(reference)
    overlap = len(hyp & ref)
    precision = overlap / len(hyp) if hyp else 0.0
    recall = overlap / len(ref) if ref else 0.0
    return 2.0 * ((precision * recall) / (precision + recall + 1e-8))


@dataclass
class _Tally:
    n: int = 0
    flags: int = 0
    sentences: int = 0
    rouge_sum: float = 0.0
    rouge_pairs: int = 0
    both_na: int = 0

    def add(self, meta: Mapping[str, Any], prediction: Mapping[str, Any] | None) -> None:
        self.n += 1
        reference = str(meta.get("corrected_sentence") or NA)
        if prediction is None:
            return
        self.flags += int(prediction["flag"] == int(meta["error_flag"]))
        self.sentences += int(prediction["sentence_id"] == int(meta["error_sentence_id"]))
        candidate = prediction["correction"] if prediction["flag"] == 1 else NA
        if reference == NA and candidate == NA:
            self.both_na += 1
        elif reference != NA and candidate != NA:
            self.rouge_pairs += 1
            self.rouge_sum += rouge1_f(candidate, reference)

    def result(self) -> dict[str, Any]:
        n = self.n
        return {
            "n": n,
            "flag_accuracy": self.flags / n if n else None,
            "sentence_accuracy": self.sentences / n if n else None,
            "rouge1_composite": (self.rouge_sum + self.both_na) / n if n else None,
            "rouge1_on_corrections": (
                self.rouge_sum / self.rouge_pairs if self.rouge_pairs else None),
            "correction_pairs": self.rouge_pairs,
        }


def medec_metrics(samples: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The three subtasks' metrics over a run's samples, overall and per error type.

    Returns None when no sample is a MEDEC item (no ``error_sentence_id`` in its metadata).
    Keys: n, flag_accuracy, sentence_accuracy, rouge1_composite (the shared task's
    ROUGE-1 F composite), rouge1_on_corrections (mean ROUGE-1 F where both sides give a
    correction), correction_pairs, by_error_type {type: same keys}, errors, note.
    """
    overall = _Tally()
    by_type: dict[str, _Tally] = {}
    errors = 0
    seen = False
    for s in samples:
        meta = s["details"].get("metadata", {})
        if "error_sentence_id" not in meta:
            continue
        seen = True
        if s["status"] == "error":
            errors += 1
            continue
        prediction = s["details"].get("medec") if s["status"] == "ok" else None
        overall.add(meta, prediction)
        by_type.setdefault(str(meta.get("error_type") or NA), _Tally()).add(meta, prediction)
    if not seen:
        return None
    return {
        **overall.result(),
        "by_error_type": {k: by_type[k].result() for k in sorted(by_type)},
        "errors": errors,
        "note": BERTSCORE_NOTE,
    }


def medec_lines(m: Mapping[str, Any]) -> list[str]:
    """The three MEDEC subtasks overall and by error type, as `medq show` prints them."""

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.1f}"

    lines = [
        f"MEDEC: error flag {pct(m['flag_accuracy'])}%, error sentence "
        f"{pct(m['sentence_accuracy'])}%, correction ROUGE-1 F (composite) "
        f"{pct(m['rouge1_composite'])}% (n={m['n']})"
    ]
    for name, row in m["by_error_type"].items():
        lines.append(
            f"  {name}: flag {pct(row['flag_accuracy'])}%, sentence "
            f"{pct(row['sentence_accuracy'])}%, ROUGE-1 {pct(row['rouge1_composite'])}% "
            f"(n={row['n']})"
        )
    lines.append(f"  {m['note']}")
    return lines


def _register_reader() -> None:
    from medq.scoring.readings import register_reader
    from medq.types import Answer, Generation, Reading, Status

    @register_reader("correction")
    def read_correction(reading: Reading, generation: Generation) -> Answer:
        """A MEDEC prediction (error flag, sentence, correction) from a JSON reply."""
        prediction = read_prediction(generation.text)
        if prediction.flag is None:
            return Answer(None, Status.INVALID, generation.text,
                          truncated=generation.truncated, reason=prediction.reason)
        details = {"medec": {"flag": prediction.flag, "sentence_id": prediction.sentence_id,
                             "correction": prediction.correction}}
        return Answer(str(prediction.flag), Status.OK, generation.text,
                      truncated=generation.truncated, details=details)


_register_reader()
