"""Rebuild medq's bundled samples and replay file from the original releases.

    python tests/tasks/build_samples.py [SHARED_DATA [OUT]]

SHARED_DATA defaults to ../shared/data beside the checkout, OUT to src/medq/data. Samples
are the first N items of each release file, copied byte for byte in the release's own format
(so they go through the same parsers, and position-derived IDs stay right);
tests/tasks/test_samples.py checks that a rebuild reproduces the shipped files exactly.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N = 50  # MedQA, MedMCQA, PubMedQA
N_MMLU = 8  # per subject: 6 x 8 = 48 items for mmlu_medical
N_MEDAGENTS = 10  # per MedAgentsBench file
MMLU_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)
# afrimedqa is left out: its questions are AfriMed-QA's (CC BY-NC-SA 4.0), never shipped.
MEDAGENTS_SOURCES = (
    "medbullets",
    "medmcqa",
    "medqa",
    "medqa_5options",
    "mmlu",
    "mmlu-pro",
    "pubmedqa",
)
# medq task -> MIRAGE dataset name in the released predictions
REPLAY_TASKS = {
    "medqa": "medqa",
    "medmcqa": "medmcqa",
    "mmlu_medical": "mmlu",
    "pubmedqa_noctx": "pubmedqa",
}
REPLAY_FILE = "replay/mirage_gpt-4-32k_cot.jsonl"


def _first_lines(src: Path, n: int) -> bytes:
    lines = src.read_bytes().splitlines(keepends=True)
    return b"".join(lines[:n])


def _first_csv_records(src: Path, n: int) -> bytes:
    text = src.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    for _ in range(n):
        next(reader)
    keep = reader.line_num
    return "".join(text.splitlines(keepends=True)[:keep]).encode("utf-8")


def _write(out: Path, relative: str, content: bytes) -> None:
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def build_samples(shared: Path, out: Path) -> None:
    """Write the sample files under `out`/samples."""
    samples = out / "samples"
    medqa = shared / "medqa_usmle" / "US"
    _write(samples, "medqa_usmle/US/test.jsonl", _first_lines(medqa / "test.jsonl", N))
    four = "4_options/phrases_no_exclude_test.jsonl"
    _write(samples, f"medqa_usmle/US/{four}", _first_lines(medqa / four, N))
    # Dev items: the exemplar pool of few-shot strategies on the bundled test sample.
    _write(samples, "medqa_usmle/US/dev.jsonl", _first_lines(medqa / "dev.jsonl", N))
    dev_four = "4_options/phrases_no_exclude_dev.jsonl"
    _write(samples, f"medqa_usmle/US/{dev_four}", _first_lines(medqa / dev_four, N))
    medmcqa = shared / "mirage" / "rawdata" / "medmcqa" / "data" / "dev.json"
    _write(samples, "medmcqa/dev.json", _first_lines(medmcqa, N))

    ids = (ROOT / "src/medq/data/splits/pubmedqa_test_ids.txt").read_text().split()[:N]
    test_set = json.loads((shared / "pubmedqa" / "test_set.json").read_text(encoding="utf-8"))
    subset = {pmid: test_set[pmid] for pmid in ids}
    _write(samples, "pubmedqa/test_set.json", json.dumps(subset, indent=4).encode() + b"\n")

    mmlu = shared / "mirage" / "rawdata" / "mmlu" / "data" / "test"
    for subject in MMLU_SUBJECTS:
        name = f"{subject}_test.csv"
        _write(samples, f"mmlu/test/{name}", _first_csv_records(mmlu / name, N_MMLU))

    medagents = shared / "medagentsbench" / "data"
    for source in MEDAGENTS_SOURCES:
        files = ["test.jsonl"] if source == "medqa_5options" else ["test.jsonl", "test_hard.jsonl"]
        for filename in files:
            content = _first_lines(medagents / source / filename, N_MEDAGENTS)
            _write(samples, f"medagentsbench/{source}/{filename}", content)


def build_replay(shared: Path, out: Path) -> None:
    """Write MIRAGE's GPT-4 CoT outputs for the sample items of four tasks."""
    from medq.tasks import load_task

    predictions = shared / "mirage" / "predictions" / "cot__OpenAI_gpt-4-32k.jsonl.gz"
    outputs: dict[tuple[str, str], str] = {}
    with gzip.open(predictions, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            raw = record.get("raw_outputs") or []
            if raw and isinstance(raw[0], str) and raw[0].strip():
                outputs[(record["dataset"], str(record["id"]))] = raw[0]

    rows = []
    for task_name, dataset in REPLAY_TASKS.items():
        # Stems from the package's samples, not the shared data, so the two always agree.
        for q in load_task(task_name, sample=True).questions:
            response = outputs.get((dataset, q.id))
            if response is not None:
                row = {"dataset": task_name, "id": q.id, "question": q.stem, "response": response}
                rows.append(json.dumps(row, ensure_ascii=False) + "\n")
    _write(out, REPLAY_FILE, "".join(rows).encode("utf-8"))


def main(argv: list[str]) -> None:
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "data"
    out = Path(argv[2]) if len(argv) > 2 else ROOT / "src" / "medq" / "data"
    build_samples(shared, out)
    build_replay(shared, out)


if __name__ == "__main__":
    main(sys.argv)
