"""The curated public surface: a sorted __all__ whose every name resolves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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


def test_every_builtin_name_is_found_in_its_own_module() -> None:
    # A built-in whose name is neither its module's nor listed in the package's MODULES
    # table would make every lookup of it import every module (issue 19).
    code = r"""
import sys
from medq import registry
origin = {}
plain = registry.Registry.register
def register(self, name=None, **meta):
    decorate = plain(self, name, **meta)
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    def record(factory):
        origin[(self.kind, name or factory.__name__)] = frame.f_globals["__name__"]
        return decorate(factory)
    return record
registry.Registry.register = register
found = {}
for reg in (registry.tasks, registry.strategies, registry.models):
    for name in reg.names():
        found[(reg.kind, name)] = reg.module_of(name)
wrong = sorted(f"{k}: {found[k]} != {origin[k]}" for k in origin if found.get(k) != origin[k])
print(len(origin), wrong)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, wrong = out.stdout.split(" ", 1)
    assert int(count) > 100 and wrong.strip() == "[]"


def test_eval_of_direct_imports_no_other_backend_task_or_heavy_library() -> None:
    code = (
        "import sys; from medq.models import load_model; from medq.tasks.groups import "
        "expand_tasks; from medq.registry import strategies; "
        "load_model('openai/m', base_url='http://127.0.0.1:9/v1'); "
        "assert expand_tasks('medqa,multimedqa')[0] == 'medqa'; strategies.get('direct'); "
        "heavy = [m for m in ('numpy', 'pydantic', 'medq.models.openai_batch', "
        "'medq.models.hf_local', 'medq.tasks.healthbench', 'medq.judge') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_medq_eval_direct_and_show_import_no_numpy_or_pydantic(tmp_path: Path) -> None:
    # The whole command, as a user runs it: no numpy (comparison, statistics, the judge's
    # agreement), no pydantic (typer's converters, judge records: `medq._cli_params`), no
    # entry-point scan, no retrieval, no probe and no other backend's or benchmark's module
    # (issue 19).
    from medq.testing.openai_server import FakeOpenAIServer

    heavy = ("numpy", "pydantic", "importlib.metadata", "medq.retrieval", "medq.compare",
             "medq.judge.agreement", "medq.judge.record", "medq.probes",
             "medq.models.openai_batch", "medq.models.hf_local", "medq.tasks.healthbench",
             "medq.tasks.medagentsbench")
    env = {**os.environ, "MEDQ_HOME": str(tmp_path), "OPENAI_API_KEY": "k"}
    with FakeOpenAIServer() as server:
        for args in (["eval", "--task", "medqa", "--sample", "--limit", "3", "--model",
                      "openai/m", "--strategy", "direct", "--base-url", server.base_url],
                     ["show", "last"], ["runs"], ["--help"], ["eval", "--help"]):
            # Only a run needs an event loop: reading and help import no asyncio.
            unused = heavy if args[1:2] == ["--task"] else (*heavy, "asyncio", "aiohttp")
            code = (f"import runpy, sys; sys.argv = ['medq', *{args!r}]\n"
                    "try:\n    runpy.run_module('medq.cli', run_name='__main__')\n"
                    "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
                    f"print([m for m in {unused!r} if m in sys.modules], file=sys.stderr)")
            out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                 text=True, env=env, timeout=120)
            assert out.returncode == 0, out.stderr
            assert out.stderr.strip().splitlines()[-1] == "[]", (args, out.stderr)
