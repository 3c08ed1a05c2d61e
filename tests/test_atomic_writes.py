"""Nothing half-written is taken for whole: reports, exports and indexes killed (SIGKILL)
in the middle of being written leave the previous file whole, and their leftovers are
skipped by listings, reported by `medq doctor` and cleaned by the next write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fault_helpers import invoke, medq_env, store_with_run

from medq._atomic import (
    atomic_dir,
    atomic_write_text,
    find_leftovers,
    is_leftover,
    remove_leftovers,
    temp_path,
)

# Runs the CLI with one write sabotaged: `open` of medq's temporary files returns a file
# whose writes stop half-way through the KILL_AT_WRITE-th write and SIGKILL the process,
# like a kill (or power cut) arriving while bytes go to disk; with KILL_AT_WRITE=0 the
# process is killed instead just before its finished temporary would be renamed into place
# (for writers such as pyarrow that do not write through Python's files).
KILLED_WHILE_WRITING = r"""
import builtins, io, os, signal, sys
KILL_AT = int(os.environ["KILL_AT_WRITE"])
if KILL_AT == 0:
    def replace(src, dst):
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
count = [0]
real_open = builtins.open

class Dying(io.RawIOBase):
    def __init__(self, f):
        self.f = f
    def writable(self):
        return True
    def write(self, data):
        count[0] += 1
        if count[0] >= KILL_AT:
            data = bytes(data)
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return self.f.write(data)
    def seek(self, *a):
        return self.f.seek(*a)
    def tell(self):
        return self.f.tell()
    def seekable(self):
        return True
    def close(self):
        self.f.close()

def sabotaged(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    if KILL_AT and ".medq-tmp" in os.fspath(file) and "w" in mode:
        return io.BufferedWriter(Dying(f)) if "b" in mode else io.TextIOWrapper(
            io.BufferedWriter(Dying(f)), encoding=kwargs.get("encoding") or "utf-8")
    return f

builtins.open = sabotaged
from medq.cli import main
sys.argv = ["medq", *sys.argv[1:]]
main()
"""


def killed_while_writing(home: Path, *args: str, kill_at: int = 1) -> None:
    result = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, *args],
                            env=medq_env(home, KILL_AT_WRITE=str(kill_at)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr


@pytest.mark.parametrize("fmt", ["html", "markdown", "json"])
def test_report_killed_while_writing_keeps_the_old_report(
    medq_home: Path, tmp_path: Path, fmt: str
) -> None:
    store_with_run(medq_home, items=5)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / f"report.{fmt}"
    code, _, err = invoke("report", "last", "--format", fmt, "-o", str(out))
    assert code == 0, err
    good = out.read_bytes()
    store_with_run(medq_home, items=8)  # a newer run: the next report differs
    killed_while_writing(medq_home, "report", "last", "--format", fmt, "-o", str(out))
    assert out.read_bytes() == good
    leftovers = [p for p in folder.iterdir() if is_leftover(p.name)]
    assert len(leftovers) == 1 and 0 < leftovers[0].stat().st_size < len(good) * 2
    code, _, err = invoke("report", "last", "--format", fmt, "-o", str(out))
    assert code == 0, err
    assert out.read_bytes() != good
    assert [p.name for p in folder.iterdir()] == [out.name]  # the next write cleaned up


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_killed_while_writing_keeps_the_old_export(
    medq_home: Path, tmp_path: Path, fmt: str
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    store_with_run(medq_home, items=4)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / f"run.{fmt}"
    assert invoke("export", "last", "--format", fmt, "-o", str(out))[0] == 0
    good = out.read_bytes()
    store_with_run(medq_home, items=9)
    for kill_at in (0, 1) if fmt != "parquet" else (0,):
        killed_while_writing(medq_home, "export", "last", "--format", fmt, "-o", str(out),
                             kill_at=kill_at)
        assert out.read_bytes() == good
    assert invoke("export", "last", "--format", fmt, "-o", str(out))[0] == 0
    assert out.read_bytes() != good and [p.name for p in folder.iterdir()] == [out.name]


def _corpus(tmp_path: Path, n: int, tag: str) -> Path:
    path = tmp_path / f"{tag}.jsonl"
    path.write_text("".join(json.dumps({"id": f"{tag}{i}", "title": f"T{i}",
                                        "content": f"{tag} glianorex gland number {i}"}) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


def test_index_and_corpus_killed_while_writing(medq_home: Path, tmp_path: Path) -> None:
    assert invoke("corpus", "add", "books", str(_corpus(tmp_path, 30, "old")))[0] == 0
    assert invoke("index", "build", "books")[0] == 0
    code, before, _ = invoke("search", "books", "glianorex gland", "-k", "3")
    assert code == 0 and "old" in before

    # A rebuild of the index killed half-way through its files: the old index still serves.
    killed_while_writing(medq_home, "index", "build", "books", kill_at=3)
    assert invoke("search", "books", "glianorex gland", "-k", "3")[1] == before
    # A replacement of the corpus killed while writing its snippets: the old corpus stays.
    killed_while_writing(medq_home, "corpus", "add", "books", str(_corpus(tmp_path, 50, "new")),
                         "--replace", kill_at=1)
    assert invoke("search", "books", "glianorex gland", "-k", "3")[1] == before

    code, listing, _ = invoke("corpus", "list")
    assert code == 0 and "medq-tmp" not in listing and listing.count("books") == 1
    assert "bm25" in listing
    code, report, _ = invoke("doctor")
    assert code == 1 and report.count("left by a write that was killed") == 2
    code, report, _ = invoke("doctor", "--fix")
    assert code == 0 and "removed 2 leftovers" in report
    assert find_leftovers(medq_home) == []


def test_replacing_a_folder_is_atomic(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    target = tmp_path / "index"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a").write_text("2")
        raise RuntimeError("killed")
    assert (target / "a").read_text() == "1" and os.listdir(tmp_path) == ["index"]
    with atomic_dir(target) as tmp:
        (tmp / "b").write_text("3")
    assert os.listdir(target) == ["b"] and os.listdir(tmp_path) == ["index"]


def test_leftovers_of_live_processes_are_left_alone(tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    mine = temp_path(tmp_path / "x.html")
    mine.write_text("being written")
    dead = tmp_path / ".x.html.999999999-1.medq-tmp"
    dead.write_text("half")
    assert is_leftover(mine.name) and is_leftover(dead.name)
    assert find_leftovers(tmp_path) == [dead]
    atomic_write_text(tmp_path / "x.html", "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["x.html", mine.name])
    remove_leftovers([mine])
    assert os.listdir(tmp_path) == ["x.html"]
