"""Rows of a parquet file (the format of the benchmarks' Hub copies), with the base install.

The reader is arro3-io, a small binding of arrow-rs's parquet reader: about 33 MB
installed and 2-12 ms to import, against about 170 MB and 50 ms for pyarrow
(`bench/bench_parquet.py`, BENCHMARKS.md), so a plain ``pip install medq`` reads
MedCalc-Bench's official parquet and the Hub copy of MMLU. A file that is not parquet, or
whose metadata is damaged, is a `TaskDataError` naming the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medq.tasks.base import TaskDataError

_MAGIC = b"PAR1"


def parquet_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for each row of a parquet file: ``("row 1", {column: value})``.

    Raises:
        TaskDataError: the file is not a readable parquet file.
    """
    _check_framing(path)
    from arro3.io import read_parquet

    try:
        table = read_parquet(str(path)).read_all()
        columns = {name: table.column(name).to_pylist() for name in table.column_names}
    except Exception as exc:
        raise _unreadable(path, exc) from None
    except BaseException as exc:
        # arro3 turns a Rust panic on damaged metadata into pyo3's PanicException, which
        # derives from BaseException; anything else (KeyboardInterrupt) goes on.
        if type(exc).__name__ != "PanicException":
            raise
        raise _unreadable(path, exc) from None
    for i in range(table.num_rows):
        yield f"row {i + 1}", {name: values[i] for name, values in columns.items()}


def _check_framing(path: Path) -> None:
    """The file starts and ends with PAR1 and its footer fits: catches a file that is not
    parquet, or a truncated download, before the reader sees it."""
    size = path.stat().st_size
    if size < 12:
        raise TaskDataError(f"{path}: not a parquet file ({size} bytes)")
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(size - 8)
        tail = f.read(8)
    footer = struct.unpack("<I", tail[:4])[0]
    if head != _MAGIC or tail[4:] != _MAGIC:
        raise TaskDataError(f"{path}: not a parquet file (no PAR1 marker at its "
                            f"{'start' if head != _MAGIC else 'end'}; truncated?)")
    if footer > size - 12:
        raise TaskDataError(f"{path}: damaged parquet file (footer of {footer} bytes in a "
                            f"{size}-byte file)")


def _unreadable(path: Path, exc: BaseException) -> TaskDataError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TaskDataError(f"{path}: unreadable parquet file ({reason[:200]})")
