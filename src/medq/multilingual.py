"""Cross-lingual comparison: one model on the same items in several languages, paired by item.

MedExpQA (Alonso et al., AIIM 2024) asks the same clinical cases in English, Spanish,
French and Italian; the question it answers is how much a model loses outside English.
Runs of parallel tasks share item IDs and gold answers, so `medq.compare.compare_runs`
pairs them by item (exact McNemar, paired bootstrap, Holm); this module picks the baseline
language and labels the runs by language.

Example:
    >>> result = cross_lingual(Store(), ["medexpqa_en-cot-1a2b", "medexpqa_es-cot-3c4d"])
    >>> [(p.run_a, p.diff, p.verdict) for p in result.comparison.pairs]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medq.compare import Comparison, compare_runs
from medq.store import Store


@dataclass(frozen=True)
class CrossLingual:
    """Each language's run against the baseline language's, paired by item.

    Attributes:
        languages: run ID -> the language of its task.
        baseline: the baseline run (its language is `baseline_language`).
        comparison: the paired comparison (A = a language's run, B = the baseline).
    """

    languages: dict[str, str]
    baseline: str
    baseline_language: str
    comparison: Comparison


def task_language(task: str) -> str | None:
    """The language a registered task declares (None for an unknown task)."""
    from medq import registry

    try:
        return getattr(registry.tasks.get(task), "language", None)
    except registry.UnknownNameError:
        return None


def cross_lingual(store: Store, runs: Sequence[str], *, baseline_language: str = "en",
                  seed: int = 0) -> CrossLingual:
    """Compare runs of one benchmark in several languages against the baseline language.

    Raises:
        ValueError: fewer than two runs, two runs in one language, no run in the baseline
            language, or runs whose shared items have different gold answers (not the same
            questions).
    """
    ids = [store.resolve_run_id(r) for r in runs]
    languages = {run_id: task_language(store.run(run_id)["task"]) or "?" for run_id in ids}
    seen = list(languages.values())
    if len(ids) < 2 or len(set(seen)) != len(seen):
        raise ValueError(f"cross_lingual needs one run per language, got {seen}")
    base = next((r for r, lang in languages.items() if lang == baseline_language), None)
    if base is None:
        raise ValueError(f"no run in the baseline language {baseline_language!r} "
                         f"(languages: {', '.join(seen)})")
    comparison = compare_runs(store, ids, baseline=base, seed=seed)
    return CrossLingual(languages, base, baseline_language, comparison)
