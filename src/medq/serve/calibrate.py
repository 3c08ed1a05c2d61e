"""Abstention from evidence: the confidence threshold that reaches a target selective
accuracy on a stored run, written into the pipeline's config.

The run's risk–coverage curve (`medq.scoring.calibration`: answering only items at or
above each distinct confidence, most confident first) gives, for every threshold, the
accuracy on the items answered. The threshold chosen is the lowest whose accuracy reaches
the target, so the pipeline answers as often as the evidence allows. Errors are left out
and invalid answers count as wrong (`medq.results`); items without a confidence would
abstain under any threshold and count against coverage. The accuracy is measured on the
same items that chose the threshold, so it is optimistic: the 95% Wilson interval and the
number of items answered are recorded beside it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medq.serve.config import load_config, pipeline_line

__all__ = ["CalibrationError", "Threshold", "pick_threshold", "write_threshold"]


class CalibrationError(ValueError):
    """No threshold can be chosen or written; the message says why."""


@dataclass(frozen=True)
class Threshold:
    """The chosen threshold and what it achieved on the run.

    Attributes:
        threshold: answer when the confidence is at least this.
        selective_accuracy: accuracy on the items answered at that threshold.
        ci_low, ci_high: its 95% Wilson interval.
        answered: items answered at that threshold.
        n: items scored (errors excluded), with or without a confidence.
        coverage: answered / n.
        target: the selective accuracy asked for.
        run: the run it was measured on.
    """

    threshold: float
    selective_accuracy: float
    ci_low: float
    ci_high: float
    answered: int
    n: int
    coverage: float
    target: float
    run: str


MIN_ANSWERED = 30
"""Fewest items a threshold must answer to be chosen: below that, one lucky item can make
any threshold look perfect (1 of 1 right has a 95% Wilson interval of 0.21–1)."""


def pick_threshold(samples: Iterable[Mapping[str, Any]], target: float, run: str, *,
                   min_answered: int = MIN_ANSWERED) -> Threshold:
    """The lowest threshold whose selective accuracy on `samples` reaches `target`, among
    those that answer at least `min_answered` items.

    Raises:
        CalibrationError: no item has a confidence, or no threshold reaches the target.

    Example:
        >>> pick_threshold(store.samples(run_id), 0.95, run_id).threshold
    """
    import numpy as np

    from medq.results import hit
    from medq.scoring.calibration import calibration
    from medq.scoring.metrics import wilson_interval

    if not 0.0 < target <= 1.0:
        raise CalibrationError(f"--target-selective-accuracy must be in (0, 1], not {target}")
    scored = [(s["confidence"], h) for s in samples if (h := hit(s)) is not None]
    with_confidence = [(c, h) for c, h in scored if c is not None]
    result = calibration([c for c, _ in with_confidence], [h for _, h in with_confidence])
    if result is None:
        raise CalibrationError(f"run {run} has no item with a confidence: its strategy gives "
                               "none (self-consistency and logprob strategies do)")
    # The curve has one point per distinct confidence, most confident first.
    levels = sorted({float(np.clip(c, 0.0, 1.0)) for c, _ in with_confidence}, reverse=True)
    best = None
    eligible = [(level, coverage, accuracy) for level, (coverage, accuracy)
                in zip(levels, result.coverage, strict=True)
                if round(coverage * result.n) >= min_answered]
    for level, coverage, accuracy in eligible:
        if accuracy >= target - 1e-12:
            best = (level, coverage, accuracy)
    if best is None:
        top = max((a for _, _, a in eligible), default=None)
        best_text = f"the best is {top:.3f}" if top is not None else "none does"
        raise CalibrationError(f"no threshold answering at least {min_answered} items "
                               f"reaches selective accuracy {target} on run {run}: "
                               f"{best_text} (--min-answered sets the floor)")
    level, coverage, accuracy = best
    answered = round(coverage * result.n)
    low, high = wilson_interval(round(accuracy * answered), answered)
    return Threshold(level, accuracy, low, high, answered, len(scored),
                     answered / len(scored), target, run)


def _literal(value: Any) -> str:
    """A value as a TOML literal (numbers, strings, lists of numbers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(round(value, 6) if isinstance(value, float) else value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def write_threshold(config_path: Path | str, pipeline: str, chosen: Threshold) -> None:
    """Set the pipeline's ``abstain_below`` and ``calibration`` in the config file.

    The file is edited in place, keeping everything else as written, then read back: it
    is replaced only when the result parses and differs in those two keys alone.

    Raises:
        CalibrationError: the pipeline is not in the file, or the edit did not hold.
    """
    path = Path(config_path)
    before = load_config(path)
    index = next((i for i, p in enumerate(before.pipelines) if p.name == pipeline), None)
    if index is None:
        raise CalibrationError(f"no pipeline {pipeline!r} in {path} (pipelines: "
                               f"{', '.join(p.name for p in before.pipelines)})")
    provenance = {k: v for k, v in asdict(chosen).items() if k != "threshold"}
    provenance["ci95"] = [provenance.pop("ci_low"), provenance.pop("ci_high")]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = pipeline_line("".join(lines), index) - 1
    end = next((n for n in range(header + 1, len(lines))
                if re.match(r"\s*\[", lines[n])), len(lines))
    ours = [n for n in range(header + 1, end)
            if re.match(r"\s*(abstain_below|calibration)\s*=", lines[n])]
    keys = [n for n in range(header + 1, end)
            if lines[n].strip() and not lines[n].lstrip().startswith("#")]
    at = ours[0] if ours else (keys[-1] + 1 if keys else header + 1)
    table = ", ".join(f"{k} = {_literal(v)}" for k, v in provenance.items())
    new = [f"abstain_below = {_literal(chosen.threshold)}\n", f"calibration = {{ {table} }}\n"]
    rest = [lines[n] for n in range(len(lines)) if n not in ours]
    at -= sum(1 for n in ours if n < at)
    if at > 0 and not rest[at - 1].endswith("\n"):
        rest[at - 1] += "\n"
    text = "".join([*rest[:at], *new, *rest[at:]])
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        after = load_config(temp)
        changed = after.pipelines[index]
        expected = before.pipelines[index]
        same_else = all(
            getattr(changed, f) == getattr(expected, f) for f in expected.__dataclass_fields__
            if f not in ("abstain_below", "calibration"))
        if (changed.abstain_below != chosen.threshold or not same_else
                or after.pipelines[:index] + after.pipelines[index + 1:]
                != before.pipelines[:index] + before.pipelines[index + 1:]):
            raise CalibrationError(f"{path}: editing pipeline {pipeline!r} did not give the "
                                   "expected file; set abstain_below by hand")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
