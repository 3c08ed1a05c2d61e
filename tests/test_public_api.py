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
