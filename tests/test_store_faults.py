"""The store when the machine fails: MEDQ_HOME a file, unwritable or read-only, a full disk,
an empty, foreign or corrupt store. Each is one line naming the file, exit 1, no traceback;
the read-only commands keep working on a read-only store."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.fault_helpers import (
    MEDQ,
    in_mount_namespace,
    invoke,
    medq_env,
    one_error_line,
    run_medq,
    store_with_run,
    unprivileged,
)

from medq.store import Store, StoreError
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

READ_COMMANDS = (("runs",), ("show", "last"), ("export", "last"), ("report", "last"),
                 ("compare", "last"))


def _eval_args(base_url: str = "http://127.0.0.1:9") -> tuple[str, ...]:
    return ("eval", "--task", "medqa", "--sample", "--model", "openai/fake", "--base-url",
            base_url, "--limit", "2")


def test_medq_home_a_file(medq_home: Path) -> None:
    medq_home.parent.mkdir(parents=True, exist_ok=True)
    medq_home.write_text("not a folder")
    for args in (("runs",), ("show", "last"), _eval_args(), ("corpus", "add", "c",
                                                               str(medq_home))):
        code, _, err = invoke(*args)
        assert code == 1, (args, err)
        one_error_line(err, str(medq_home), "not a folder")
    code, out, _ = invoke("doctor")
    assert code == 1 and "is a file, not a folder" in out
    assert medq_home.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "is empty (0 bytes)"), (b"hello, not a database\n" * 20, "not a medq store")],
)
def test_empty_or_foreign_store_is_refused_by_every_command(
    medq_home: Path, content: bytes, says: str
) -> None:
    medq_home.mkdir(parents=True)
    store = medq_home / "medq.sqlite"
    store.write_bytes(content)
    for args in (*READ_COMMANDS, _eval_args()):
        code, _, err = invoke(*args)
        assert code == 1, (args, err)
        one_error_line(err, str(store), says)
    code, out, _ = invoke("doctor")
    assert code == 1 and says in out
    assert store.read_bytes() == content  # refused, never "repaired" into a new store


def _corrupt_page(store: Path, table: str, kind: str) -> None:
    """Overwrite the body of one `kind` page ("leaf"/"internal") of `table` with garbage."""
    db = sqlite3.connect(store)
    try:
        page = db.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? "
                          "ORDER BY pageno LIMIT 1", (table, kind)).fetchone()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        db.close()
    assert page is not None
    size = 4096
    with open(store, "r+b") as f:
        f.seek((page[0] - 1) * size + 8)
        f.write(b"\xa5" * (size - 16))


@pytest.mark.parametrize(("table", "kind"), [("samples", "leaf"), ("samples", "internal"),
                                             ("runs", "leaf")])
def test_corrupt_store_is_one_line_for_read_commands(
    medq_home: Path, table: str, kind: str
) -> None:
    store_with_run(medq_home, items=40, response="The answer is (B). " + "lorem " * 400)
    _corrupt_page(medq_home / "medq.sqlite", table, kind)
    for args in READ_COMMANDS:
        code, out, err = invoke(*args)
        assert code == 1, (args, out, err)
        one_error_line(err, "is corrupt", "medq doctor")
    code, out, _ = invoke("doctor")
    assert code == 1 and "integrity_check" in out


def test_read_commands_on_a_missing_store_create_nothing(medq_home: Path) -> None:
    code, out, _ = invoke("runs")
    assert code == 0 and "run_id" in out
    code, _, err = invoke("show", "last")
    assert code == 2 and "no runs" in err
    assert not medq_home.exists()


def test_store_creation_is_atomic_under_concurrent_first_use(tmp_path: Path) -> None:
    path = tmp_path / "home" / "medq.sqlite"

    def first_use(i: int) -> int:
        with Store(path) as store:
            store.create_or_resume_run(f"r{i}", task="t", model="m", strategy="s", spec={},
                                       info={})
            return len(store.runs())

    with ThreadPoolExecutor(8) as pool:
        assert all(n >= 1 for n in pool.map(first_use, range(8)))
    with Store(path, readonly=True) as store:
        assert len(store.runs()) == 8
    assert sorted(p.name for p in path.parent.iterdir() if "medq-tmp" in p.name) == []


def test_read_only_file_system(medq_home: Path) -> None:
    run_id = store_with_run(medq_home, items=3)
    home = shlex.quote(str(medq_home))
    script = (f"mount --bind {home} {home} && mount -o remount,ro,bind {home} && "
              + " ; ".join(f"{shlex.join([*MEDQ, *args])}; echo \"rc=$?\" 1>&2"
                           for args in (*READ_COMMANDS[:3], ("report", "last", "--format",
                                                             "json"), _eval_args())))
    result = subprocess.run(in_mount_namespace(script), env=medq_env(medq_home),
                            capture_output=True, text=True, timeout=120)
    codes = [line for line in result.stderr.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=0", "rc=0", "rc=0", "rc=0", "rc=1"], result.stderr
    assert run_id in result.stdout
    one_error_line(result.stderr, "read-only file system", "show")


@pytest.mark.parametrize("what", ["folder", "file"])
def test_unwritable_store(medq_home: Path, what: str) -> None:
    prefix = unprivileged()
    run_id = store_with_run(medq_home, items=3)
    store = medq_home / "medq.sqlite"
    (store if what == "file" else medq_home).chmod(0o444 if what == "file" else 0o555)
    try:
        for args in READ_COMMANDS[:3]:
            result = run_medq(medq_home, *args, prefix=prefix)
            assert result.returncode == 0, (args, result.stderr)
        assert run_id in run_medq(medq_home, "runs", prefix=prefix).stdout
        result = run_medq(medq_home, *_eval_args(), prefix=prefix)
        assert result.returncode == 1
        one_error_line(result.stderr, str(store), "writable")
    finally:
        medq_home.chmod(0o755)
        store.chmod(0o644)


def test_unwritable_parent_of_medq_home(tmp_path: Path) -> None:
    prefix = unprivileged()
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    home = parent / "home"
    try:
        assert run_medq(home, "runs", prefix=prefix).returncode == 0  # nothing to read
        result = run_medq(home, *_eval_args(), prefix=prefix)
        assert result.returncode == 1
        one_error_line(result.stderr, str(home), "permission denied")
    finally:
        parent.chmod(0o755)


def test_disk_fills_up_during_a_run_and_a_report(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    home = disk / "home"
    report = disk / "report.html"
    with FakeOpenAIServer(fixed_responder("The answer is (B). " + "x" * 20_000)) as server:
        script = " ; ".join([
            f"mount -t tmpfs -o size=256k tmpfs {shlex.quote(str(disk))}",
            f"printf old > {shlex.quote(str(report))}",
            shlex.join([*MEDQ, "eval", "--task", "medqa", "--sample", "--model", "openai/fake",
                        "--base-url", server.base_url]) + " ; echo \"rc=$?\" 1>&2",
            shlex.join([*MEDQ, "runs"]) + " ; echo \"rc=$?\" 1>&2",
            f"head -c 1000000 /dev/zero > {shlex.quote(str(disk / 'filler'))} 2>/dev/null",
            shlex.join([*MEDQ, "report", "last", "-o", str(report)]) + " ; echo \"rc=$?\" 1>&2",
            f"cat {shlex.quote(str(report))}",
            f"ls -a {shlex.quote(str(disk))} 1>&2",
        ])
        result = subprocess.run(in_mount_namespace(script), env=medq_env(home),
                                capture_output=True, text=True, timeout=120)
    codes = [line for line in result.stderr.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=1", "rc=0", "rc=1"], result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in result.stderr and len(errors) == 2, result.stderr
    assert "the disk is full" in errors[0] and str(home / "medq.sqlite") in errors[0]
    assert "the disk is full" in errors[1] and str(report) in errors[1]
    assert result.stdout.endswith("old")  # the old report is untouched, not a 0-byte file
    assert ".medq-tmp" not in result.stderr  # and no half-written temporary is left


def test_python_api_raises_store_error(tmp_path: Path) -> None:
    (tmp_path / "medq.sqlite").write_bytes(b"")
    with pytest.raises(StoreError, match="0 bytes"):
        Store(tmp_path / "medq.sqlite")
    with pytest.raises(StoreError, match="not a folder"):
        Store(tmp_path / "medq.sqlite" / "medq.sqlite")



CHECK = ("import pathlib, sqlite3, sys; p = pathlib.Path(sys.argv[1]); print(sys.argv[2], "
         "sqlite3.connect(f'file:{p}?immutable=1', uri=True).execute("
         "'PRAGMA integrity_check').fetchone()[0] if p.exists() else 'no store')")


def test_a_disk_that_fills_while_the_store_is_created_never_leaves_a_damaged_one(
        tmp_path: Path) -> None:
    """The disk fills at some point of creating the schema (each size a different one):
    the command says so in one line, and a store is either whole or not there."""
    sizes = [f"{k}k" for k in range(48, 272, 16)]
    lines = []
    for size in sizes:
        disk = tmp_path / size
        disk.mkdir()
        store = disk / "home" / "medq.sqlite"
        lines += [f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))}",
                  f"MEDQ_HOME={shlex.quote(str(disk / 'home'))} "
                  + shlex.join([*MEDQ[:1], "-c", "from medq.store import Store; Store().close()"])
                  + " 2>&1 | tail -1",
                  shlex.join([*MEDQ[:1], "-c", CHECK, str(store), f"{size}:"])]
    result = subprocess.run(in_mount_namespace(" ; ".join(lines)), env=medq_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert "corrupt" not in out and "malformed" not in out, out
    found = [x.split(": ", 1)[1] for x in out.splitlines() if x.split(":")[0] in sizes]
    assert len(found) == len(sizes) and set(found) <= {"ok", "no store"}, out
    assert found[0] == "no store" and found[-1] == "ok", out  # both ends were reached
    assert "the disk is full" in out
