"""The curated public surface: a sorted __all__ whose every name resolves."""

from __future__ import annotations

import subprocess
import sys


def test_import_medq_loads_no_heavy_libraries() -> None:
    code = (
        "import sys, medq.cli; "
        "heavy = [m for m in ('aiohttp', 'torch', 'transformers', 'huggingface_hub') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_strategy_and_task_import_only_their_modules() -> None:
    # The registries import the module a name lives in, not every module (issue 19).
    code = (
        "import sys; from medq.registry import strategies, tasks; "
        "strategies.get('direct'); tasks.get('medqa'); tasks.get('medqa_5opt'); "
        "heavy = [m for m in ('numpy', 'pydantic', 'medq.retrieval', 'medq.calculators', "
        "'medq.strategies.medprompt') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
