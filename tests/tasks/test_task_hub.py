"""The Hub path of each loader, with the download replaced by local files (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

import medq.hub
from medq.hub import HubFile
from medq.tasks import load_task


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> list[HubFile]:
    asked: list[HubFile] = []

    def download(file: HubFile) -> Path:
        asked.append(file)
        return files[file.filename]

    monkeypatch.setattr(medq.hub, "download", download)
    monkeypatch.setattr("medq.tasks._io.download", download)
    return asked


def test_medqa_from_the_hub(monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    release = shared_data / "medqa_usmle" / "US" / "4_options" / "phrases_no_exclude_test.jsonl"
    asked = _serve(monkeypatch, {"phrases_no_exclude_test.jsonl": release})
    task = load_task("medqa")
    assert len(task) == 1273
    assert (
        task.source == "hub:GBaker/MedQA-USMLE-4-options@0fb93dd23a7339b6dcd27e241cb9b5eca62d4d18"
    )
    assert [f.repo_id for f in asked] == ["GBaker/MedQA-USMLE-4-options"]
    assert len(asked[0].revision) == 40


def test_pubmedqa_and_medmcqa_from_the_hub(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    _serve(
        monkeypatch,
        {
            "test_set.json": shared_data / "pubmedqa" / "test_set.json",
            "dev.json": shared_data / "mirage" / "rawdata" / "medmcqa" / "data" / "dev.json",
        },
    )
    assert len(load_task("pubmedqa")) == 500
    assert load_task("pubmedqa_noctx").source.startswith("hub:tan9/pubmedQA@")
    assert len(load_task("medmcqa")) == 4183


def _mmlu_parquet(path: Path) -> Path:
    """Two rows in the Hub copy's columns, written with pyarrow (as `datasets` writes them)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "question": ["Q1?", "Q2?"],
            "subject": ["anatomy", "anatomy"],
            "choices": [["a", "b", "c", "d"], ["e", "f", "g", "h"]],
            "answer": pa.array([2, 0], pa.int64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_mmlu_from_hub_parquet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _mmlu_parquet(tmp_path / "mmlu-test.parquet")
    asked = _serve(monkeypatch, {"anatomy/mmlu-test.parquet": path})
    task = load_task("mmlu_anatomy")
    assert [(q.id, q.stem, q.gold, q.options["A"]) for q in task.questions] == [
        ("anatomy-000", "Q1?", "C", "a"),
        ("anatomy-001", "Q2?", "A", "e"),
    ]
    assert asked[0].repo_id == "cais/mmlu" and task.source.startswith("hub:cais/mmlu@")


def test_every_hub_copy_is_pinned_to_a_commit() -> None:
    import importlib
    import pkgutil
    import re

    import medq.tasks

    files = []
    for module in pkgutil.iter_modules(medq.tasks.__path__):
        loaded = importlib.import_module(f"medq.tasks.{module.name}")
        files += [v for v in vars(loaded).values() if isinstance(v, HubFile)]
    from medq.tasks.mmlu_medical import HUB_REVISION, _hub_file

    files.append(_hub_file("anatomy"))
    repos = {f.repo_id for f in files}
    assert {"ncbi/MedCalc-Bench-v1.0", "ncbi/MedCalc-Bench-v1.2", "cais/mmlu",
            "GBaker/MedQA-USMLE-4-options", "tan9/pubmedQA", "lighteval/med_mcqa"} <= repos
    for f in files:
        assert re.fullmatch(r"[0-9a-f]{40}", f.revision), f
    assert re.fullmatch(r"[0-9a-f]{40}", HUB_REVISION)


_NO_PYARROW = """
import sys
from pathlib import Path

sys.modules["pyarrow"] = None  # as after a plain `pip install medq`: importing it fails
import medq.tasks._io
from medq.tasks import load_task

medcalc = load_task("medcalc", Path(sys.argv[1]))
medq.tasks._io.download = lambda file: Path(sys.argv[2])  # the Hub copy of MMLU, served
mmlu = load_task("mmlu_anatomy")
print(len(medcalc), len(mmlu))
"""


def test_release_parquet_loads_without_pyarrow(shared_data: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    mmlu = _mmlu_parquet(tmp_path / "mmlu-test.parquet")
    medcalc = shared_data / "medcalc_bench" / "test-00000-of-00001.parquet"
    done = subprocess.run([sys.executable, "-c", _NO_PYARROW, str(medcalc), str(mmlu)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1047", "2"]


@pytest.mark.parametrize("damage", ["not_parquet", "truncated", "footer", "pages"])
def test_damaged_parquet_is_one_line_naming_the_file(
    shared_data: Path, tmp_path: Path, damage: str
) -> None:
    from medq.tasks import TaskDataError

    good = (shared_data / "medcalc_bench" / "test-00000-of-00001.parquet").read_bytes()
    footer = int.from_bytes(good[-8:-4], "little")
    data = {
        "not_parquet": b"Row Number,Question\n1,What?\n",
        "truncated": good[: len(good) // 2],
        "footer": good[: len(good) - 8 - footer] + bytes(footer) + good[-8:],
        "pages": good[:1000] + bytes(5000) + good[6000:],
    }[damage]
    path = tmp_path / "test-00000-of-00001.parquet"
    path.write_bytes(data)
    with pytest.raises(TaskDataError) as info:
        load_task("medcalc", path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "parquet" in message and "\n" not in message
