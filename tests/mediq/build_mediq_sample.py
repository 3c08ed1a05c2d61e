"""Rebuild the bundled MediQ samples from the release's two JSON-lines files.

    python tests/mediq/build_mediq_sample.py [SHARED_DATA [OUT]]

Each sample is the first 20 records of its file, copied byte for byte, so IDs and the
parser are the same as for the full file. tests/mediq/test_mediq_task.py checks that a
rebuild reproduces the shipped files.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N = 20
FILES = ("all_dev_good.jsonl", "all_craft_md.jsonl")


def first_lines(data: bytes, n: int) -> bytes:
    """The first `n` lines of a file, line endings kept."""
    return b"".join(data.splitlines(keepends=True)[:n])


def build(shared: Path, out: Path) -> list[Path]:
    written = []
    for name in FILES:
        target = out / "samples" / "mediq" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(first_lines((shared / "mediq" / name).read_bytes(), N))
        written.append(target)
    return written


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "src" / "medq" / "data"
    print(build(shared, out))
