"""medq: answer medical questions with any LLM and measure, rigorously, how well it does.

Example:
    >>> import medq
    >>> result = medq.evaluate(medq.EvalSpec(task="medqa", model="openai/gpt-4o-mini"))
    >>> result.summary["accuracy"], result.summary["ci_low"], result.summary["ci_high"]

Names are imported on first use, so ``import medq`` (and ``medq --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Answer": "medq.types",
    "Capability": "medq.types",
    "Comparison": "medq.compare",
    "Completion": "medq.types",
    "EvalSpec": "medq.runner",
    "Extraction": "medq.scoring.extract",
    "FatalModelError": "medq.models.base",
    "GenerationRequest": "medq.types",
    "Message": "medq.types",
    "Model": "medq.models.base",
    "ModelError": "medq.models.base",
    "Outcome": "medq.results",
    "PairComparison": "medq.compare",
    "Question": "medq.types",
    "Reading": "medq.types",
    "RetryPolicy": "medq.models.retry",
    "RunBusyError": "medq.liveness",
    "RunFailedError": "medq.run_settings",
    "RunResult": "medq.runner",
    "RunSettings": "medq.run_settings",
    "SampleResult": "medq.results",
    "SettingError": "medq.run_settings",
    "Status": "medq.types",
    "Store": "medq.store",
    "StrategySpec": "medq.strategies.base",
    "Task": "medq.tasks.base",
    "ToolCall": "medq.types",
    "aggregate": "medq.scoring.stats",
    "bootstrap_ci": "medq.scoring.stats",
    "breakdown": "medq.scoring.stats",
    "build_report": "medq.report",
    "build_strategy": "medq.strategies.base",
    "calibration": "medq.scoring.calibration",
    "clustered_se": "medq.scoring.stats",
    "compare_runs": "medq.compare",
    "evaluate": "medq.runner",
    "export_run": "medq.export",
    "extract_choice": "medq.scoring.extract",
    "import_predictions": "medq.importers",
    "load_model": "medq.models",
    "load_task": "medq.tasks.base",
    "open_retriever": "medq.retrieval",
    "rescore": "medq.runner",
    "summarize": "medq.scoring.metrics",
    "wilson_interval": "medq.scoring.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
