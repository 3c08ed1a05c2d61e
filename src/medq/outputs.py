"""A run's results as files: ``results_<run>.json`` and ``samples_<run>.jsonl``.

Like lm-evaluation-harness's ``--output_path`` (``results_*.json``, ``samples_*.jsonl``)
and inspect's ``--log-dir``: ``medq eval --output DIR`` writes, per run,

- ``results_<run_id>.json``: exactly what ``medq show RUN --format json`` prints (the run
  summary, its provenance and extractor versions), documented by the JSON Schema
  ``medq/data/schemas/results.schema.json`` (`results_schema()`);
- ``samples_<run_id>.jsonl``: one line per item, the columns of ``medq export``
  (``medq/data/schemas/sample.schema.json``).

Each file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from medq._atomic import atomic_write_text
from medq.store import Store

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"


def provenance(run: dict[str, Any]) -> dict[str, Any]:
    """Where a run's numbers come from: endpoint, data hash, prompt hashes, versions."""
    info = run["info"]
    identity = info.get("identity") or {}
    # How sampled calls were asked for (medq.coalesce), where the run learned it.
    sampling = {"n_per_request": info["n_per_request"]} if "n_per_request" in info else {}
    return {
        "endpoint": info.get("endpoint"),
        "model": run["model"],
        "strategy": info.get("strategy_normalized") or run["strategy"],
        "data_hash": info.get("data_hash") or identity.get("data"),
        "task_source": info.get("task_source"),
        "prompts": info.get("prompts", {}),
        "extractor_version": info.get("extractor_version"),
        "medq_version": info.get("medq_version"),
        "seed": run["spec"].get("seed"),
        "limit": run["spec"].get("limit"),
        "identity": identity,
        **sampling,
    }


def results_json(store: Store, run_id: str, extractor: str | None = None) -> dict[str, Any]:
    """The run's results as ``medq show --format json`` prints them (without breakdowns)."""
    from medq.judge.summary import attach_meta
    from medq.scoring.metrics import summarize

    row = store.run(run_id)
    versions = store.extractor_versions(run_id)
    summary = summarize(row, list(store.samples(run_id, extractor)))
    attach_meta(summary, store)
    summary["extractor_version"] = extractor or summary["extractor_version"]
    summary["extractor_versions"] = versions
    summary["provenance"] = provenance(row)
    return summary


@cache
def results_schema() -> dict[str, Any]:
    """The JSON Schema of ``results_<run_id>.json`` (and of ``medq show --format json``)."""
    return json.loads((SCHEMAS / "results.schema.json").read_text(encoding="utf-8"))


@cache
def sample_schema() -> dict[str, Any]:
    """The JSON Schema of one line of ``samples_<run_id>.jsonl``."""
    return json.loads((SCHEMAS / "sample.schema.json").read_text(encoding="utf-8"))


def write_run_files(store: Store, run_id: str, folder: Path) -> tuple[Path, Path]:
    """Write the run's results JSON and per-item JSONL into `folder`; their paths."""
    from medq.export import export_rows

    folder.mkdir(parents=True, exist_ok=True)
    results = folder / f"results_{run_id}.json"
    samples = folder / f"samples_{run_id}.jsonl"
    atomic_write_text(results, json.dumps(results_json(store, run_id), indent=2,
                                          ensure_ascii=False) + "\n")
    lines = [json.dumps(row, ensure_ascii=False) for row in export_rows(store, run_id)]
    atomic_write_text(samples, "".join(line + "\n" for line in lines))
    return results, samples
