"""`medq doctor` says what it found in medq's folder and exits 1 on a problem."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from tests.fault_helpers import MEDQ, in_mount_namespace, invoke, medq_env, store_with_run

from medq.doctor import diagnose
from medq.store import MIGRATIONS


def test_healthy_folder(medq_home: Path, tmp_path: Path) -> None:
    store_with_run(medq_home, items=3)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "1", "title": "t", "content": "glianorex"}) + "\n")
    assert invoke("corpus", "add", "c", str(corpus))[0] == 0
    code, out, _ = invoke("doctor")
    assert code == 0, out
    assert "integrity_check ok: 1 runs, 3 items, 3 stored calls" in out
    assert "1 corpora, each whole" in out and "no problems found" in out


def test_items_of_missing_runs_and_runs_without_items(medq_home: Path) -> None:
    run_id = store_with_run(medq_home, items=2)
    db = sqlite3.connect(medq_home / "medq.sqlite")
    db.execute("UPDATE runs SET run_id = 'renamed', status = 'running' WHERE run_id = ?",
               (run_id,))
    db.commit()
    db.close()
    code, out, _ = invoke("doctor")
    assert code == 1
    assert f"2 items belong to no run (e.g. run '{run_id}')" in out
    assert "1 runs have no items stored (e.g. renamed)" in out
    assert "1 runs are stale (e.g. renamed): marked running, but their process is gone" in out


def test_damaged_corpus(medq_home: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": str(i), "content": f"text {i}"}) + "\n"
                              for i in range(5)))
    assert invoke("corpus", "add", "c", str(corpus))[0] == 0
    snippets = medq_home / "corpora" / "c" / "snippets.jsonl"
    snippets.write_bytes(snippets.read_bytes()[:-10])  # truncated by hand
    code, out, _ = invoke("doctor")
    assert code == 1 and "corpus 'c'" in out and "its offsets say" in out
    (medq_home / "corpora" / "c" / "offsets.npy").unlink()
    assert "offsets.npy is missing" in invoke("doctor")[1]


def test_diagnose_reads_only(medq_home: Path) -> None:
    store_with_run(medq_home, items=2)
    before = {p.name: p.stat().st_mtime_ns for p in medq_home.iterdir()}
    assert diagnose().ok
    assert {p.name: p.stat().st_mtime_ns for p in medq_home.iterdir()
            if p.name in before} == before


def _store_of_medq_one(home: Path) -> None:
    """A store as the first release of medq wrote it: only the first migration."""
    home.mkdir(parents=True)
    db = sqlite3.connect(home / "medq.sqlite")
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY)")
    db.executescript(MIGRATIONS[0][1])
    db.execute("INSERT INTO _migrations VALUES (?)", (MIGRATIONS[0][0],))
    db.execute("INSERT INTO runs VALUES ('old-run', 0, 0, 'finished', 'medqa', 'm', 'direct', "
               "'{}', '{\"n_items\": 1}', 0)")
    db.execute("INSERT INTO samples VALUES ('old-run', 'q1', 0, 'ok', 'A', 'A', 1, 0, NULL, "
               "NULL, 'A', '{}', 1, 1, 1, 1, '[]', 0)")
    db.commit()
    db.close()


def test_a_store_of_an_older_medq_is_upgraded_by_a_read(medq_home: Path) -> None:
    if len(MIGRATIONS) < 2:
        pytest.skip("one migration: no older store to upgrade")
    _store_of_medq_one(medq_home)
    code, out, err = invoke("show", "old-run", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["n"] == 1


def test_a_store_of_an_older_medq_on_a_read_only_disk(medq_home: Path) -> None:
    if len(MIGRATIONS) < 2:
        pytest.skip("one migration: no older store to upgrade")
    _store_of_medq_one(medq_home)
    home = str(medq_home)
    script = (f"mount --bind {home} {home} && mount -o remount,ro,bind {home} && "
              f"{' '.join(MEDQ)} runs")
    result = subprocess.run(in_mount_namespace(script), env=medq_env(medq_home),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "written by an older medq and must be upgraded" in result.stderr
