"""Meta-evaluation of a judge against physicians' labels (HealthBench's meta-eval format).

Arora et al. (2025), HealthBench, section on grader validation; file
``2025-05-07-06-14-12_oss_meta_eval.jsonl``: one row per (conversation, completion,
criterion) with ``prompt`` (the turns), ``completion``, ``rubric`` (the criterion),
``category`` (``cluster:…``) and ``binary_labels`` (one bool per physician who graded it).

The judge grades each row with the rubric prompt (`medq.tasks.healthbench`); its label is
compared with every physician label of the row, as the reference meta-eval does
(``compute_metrics_for_rater_by_class`` in simple-evals): precision, recall and F1 of the
positive and the negative class over those (judge, physician) pairs, their mean (macro
F1, the paper's "balanced F1"), and Cohen's kappa over the same pairs. A row the judge
gives no valid verdict on is ungraded: left out and counted. Results are kept in the
store (table ``judge_meta``, keyed by the judges' models and the prompt's hash), so every
run judged by them under that prompt shows the meta-eval beside its score
(`medq.judge.summary.attach_meta`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medq.tasks._io import data_error, iter_jsonl

PROMPT = "judge_rubric"


@dataclass(frozen=True)
class MetaRow:
    """One row of a meta-eval file."""

    key: str
    messages: tuple[Mapping[str, str], ...]
    completion: str
    rubric: str
    category: str
    labels: tuple[bool, ...]


def read_meta(path: Path) -> list[MetaRow]:
    """The rows of a meta-eval JSONL; a malformed row is a TaskDataError naming the line
    and the field."""
    rows = []
    for lineno, record in iter_jsonl(path):
        where = f"line {lineno}"
        for name, kind in (("prompt", list), ("completion", str), ("rubric", str),
                           ("binary_labels", list)):
            if not isinstance(record.get(name), kind):
                raise data_error(path, where, f"field {name!r} is missing or not a "
                                 f"{kind.__name__}")
        labels = record["binary_labels"]
        if not labels or not all(isinstance(x, bool) for x in labels):
            raise data_error(path, where, "field 'binary_labels' must be a non-empty list of "
                             "booleans")
        for i, m in enumerate(record["prompt"]):
            if not isinstance(m, dict) or not isinstance(m.get("content"), str) or \
                    m.get("role") not in ("system", "user", "assistant"):
                raise data_error(path, where, f"field 'prompt[{i}]' must be {{role, content}}")
        key = str(record.get("completion_id") or "") + "|" + record["rubric"]
        rows.append(MetaRow(key, tuple(record["prompt"]), record["completion"],
                            record["rubric"], str(record.get("category") or ""),
                            tuple(labels)))
    if not rows:
        raise data_error(path, "line 1", "no rows")
    return rows


def pairwise_metrics(judge: Sequence[bool], physicians: Sequence[Sequence[bool]]) -> dict[str, Any]:
    """Agreement of one rater's labels with every other rater's label on the same rows.

    Keys: ``pairs``; ``precision_pos``, ``recall_pos``, ``f1_pos`` and the same for
    ``neg``; ``macro_f1`` (their F1 mean); ``kappa``. A ratio with nothing to divide by
    is None.

    Example:
        >>> m = pairwise_metrics([True, False, True], [[True, True, False], [True, False], [False]])
        >>> m["precision_pos"], m["recall_pos"], m["precision_neg"], m["recall_neg"]
        (0.5, 0.6666666666666666, 0.5, 0.3333333333333333)
    """
    from medq.judge.agreement import cohen_kappa

    pairs = [(a, b) for a, others in zip(judge, physicians, strict=True) for b in others]
    out: dict[str, Any] = {"pairs": len(pairs)}
    for name, cls in (("pos", True), ("neg", False)):
        hits = sum(1 for a, b in pairs if a is cls and b is cls)
        said = sum(1 for a, _ in pairs if a is cls)
        truth = sum(1 for _, b in pairs if b is cls)
        precision = hits / said if said else None
        recall = hits / truth if truth else None
        f1 = None
        if precision is not None and recall is not None:
            f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out.update({f"precision_{name}": precision, f"recall_{name}": recall, f"f1_{name}": f1})
    f1s = (out["f1_pos"], out["f1_neg"])
    out["macro_f1"] = None if None in f1s else (f1s[0] + f1s[1]) / 2
    out["kappa"] = cohen_kappa([str(a) for a, _ in pairs], [str(b) for _, b in pairs])
    return out


@dataclass(frozen=True)
class MetaEvaluation:
    """A judge's agreement with physicians.

    Attributes:
        judges: the jury's models, in order.
        prompt_hash: the rubric prompt's hash (a meta-eval holds for that prompt only).
        rows: rows in the file (or the limit); judged: those with a verdict; ungraded: not.
        overall: `pairwise_metrics` over every judged row.
        by_category: the same per ``category``.
        new_calls: judge calls made (0 when repeated: the calls are in the store).
    """

    judges: tuple[str, ...]
    prompt_hash: str
    rows: int
    judged: int
    ungraded: int
    overall: dict[str, Any]
    by_category: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_calls: int = 0
    source: str = ""


async def meta_evaluate(
    rows: Sequence[MetaRow], judges: Sequence[tuple[str, Any]], store: Any, *,
    concurrency: int | str = 16, max_concurrency: int = 64, source: str = "",
) -> MetaEvaluation:
    """Grade every row with the live `judges` ((model spec, Model) pairs) through `store`;
    the calls are keyed by the spec, as a run's judge calls are, so they share the cache."""
    from medq.calls import CallLog, ItemModel, ItemTally
    from medq.judge.jury import judge_one
    from medq.judge.schema import RubricVerdict
    from medq.prompts import prompt_hash
    from medq.strategies._shared.fanout import gather_or_cancel
    from medq.tasks.healthbench import conversation_text

    logs = []
    for name, model in judges:
        log = CallLog(model, store, concurrency=concurrency, max_concurrency=max_concurrency)
        log.bind(name, model.endpoint, model.capabilities)
        logs.append((name, log))
    decisions = await gather_or_cancel(*(
        judge_one([(name, ItemModel(log, ItemTally(None, row.key))) for name, log in logs],
                  PROMPT, {"conversation": conversation_text(row.messages, row.completion),
                           "criterion": row.rubric}, RubricVerdict)
        for row in rows))
    graded = [(row, d.label == "met") for row, d in zip(rows, decisions, strict=True)
              if d.label is not None]
    by_category: dict[str, list[tuple[MetaRow, bool]]] = {}
    for row, label in graded:
        by_category.setdefault(row.category, []).append((row, label))

    def metrics(members: list[tuple[MetaRow, bool]]) -> dict[str, Any]:
        return pairwise_metrics([label for _, label in members],
                                [row.labels for row, _ in members])

    return MetaEvaluation(
        judges=tuple(name for name, _ in judges),
        prompt_hash=prompt_hash(PROMPT),
        rows=len(rows),
        judged=len(graded),
        ungraded=len(rows) - len(graded),
        overall=metrics(graded),
        by_category={c: metrics(m) for c, m in sorted(by_category.items())},
        new_calls=sum(log.new_calls for _, log in logs),
        source=source,
    )


def save_meta(result: MetaEvaluation, store: Any) -> None:
    """Keep `result` in `store` (`Store.save_judge_meta`), where `saved_meta` finds it."""
    store.save_judge_meta(result.judges, result.prompt_hash, asdict(result))


def saved_meta(judges: Sequence[str], prompt_hash: str, store: Any) -> dict[str, Any] | None:
    """The meta-eval kept for this jury (its models, in order) under this prompt, or None."""
    result: dict[str, Any] | None = store.judge_meta(judges, prompt_hash)
    return result
