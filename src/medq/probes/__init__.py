"""Robustness probes: seeded transforms of a multiple-choice task's items, run against any
strategy and paired with the clean run by original item.

``medq eval --task medqa --probe permute:mode=cyclic`` evaluates the probed items;
``medq probe --task medqa --model M --probes permute,nota`` runs the clean run and each
probe and prints one robustness table (McNemar, paired bootstrap, Holm). A probe is one
module of this package (its paper first), registered with `probes.register`; see
`medq.probes.base` for the mechanism and `medq.probes._robustness` for the metrics.
"""

from __future__ import annotations

from medq.probes._robustness import (
    ProbeMetrics,
    Robustness,
    RobustnessRow,
    clean_delta,
    paired_rows,
    probe_metrics,
    probe_suite,
    render_robustness,
    robustness,
    split_probes,
)
from medq.probes.base import (
    ProbedItems,
    ProbeSpecError,
    Skipped,
    Transform,
    Variant,
    apply_probes,
    build_probe,
    normalize_probe,
    probe_label,
    probe_parameters,
    probe_task,
    probes,
    relabel,
)

__all__ = [
    "ProbeMetrics", "ProbeSpecError", "ProbedItems", "Robustness", "RobustnessRow",
    "Skipped", "Transform", "Variant", "apply_probes", "build_probe", "clean_delta",
    "normalize_probe", "paired_rows", "probe_label", "probe_metrics", "probe_parameters",
    "probe_suite", "probe_task", "probes", "relabel", "render_robustness", "robustness",
    "split_probes",
]
