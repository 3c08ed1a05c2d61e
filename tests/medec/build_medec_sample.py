"""Rebuild the bundled MEDEC samples from the MS test and validation CSVs.

    python tests/medec/build_medec_sample.py [SHARED_DATA [OUT]]

Each sample is the first 20 texts of its release file (header included, records copied
byte for byte), so IDs and the parser are the same as for the full file.
tests/medec/test_medec_task.py checks a rebuild reproduces the shipped files.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N = 20
FILES = (
    "MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv",
    "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv",
)


def first_records(text: str, n: int) -> str:
    """The header and the first `n` records of a CSV text, as written in the file."""
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream)
    ends = []
    for _ in range(n + 1):
        next(reader)
        ends.append(stream.tell())
    return text[: ends[-1]]


def build(shared: Path, out: Path) -> list[Path]:
    written = []
    for name in FILES:
        text = (shared / "medec" / name).read_bytes().decode("utf-8")
        target = out / "samples" / "medec" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(first_records(text, N).encode("utf-8"))
        written.append(target)
    return written


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "src" / "medq" / "data"
    print(build(shared, out))
