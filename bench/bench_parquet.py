"""The parquet reader of the base install (arro3-io) beside pyarrow: size, import, read.

For each reader that is installed: the bytes its distributions occupy on disk (from their
installed file lists), the median wall time of importing it in a fresh interpreter, and
the median time to read MedCalc-Bench's official test parquet into Python rows.

    .venv/bin/python bench/bench_parquet.py [--data PATH] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "medcalc_bench"
READERS = {
    "arro3-io": (
        ("arro3-io", "arro3-core"),
        "from arro3.io import read_parquet",
        "tab = read_parquet(PATH).read_all(); "
        "rows = {n: tab.column(n).to_pylist() for n in tab.column_names}",
    ),
    "pyarrow": (
        ("pyarrow",),
        "import pyarrow.parquet as pq",
        "rows = pq.read_table(PATH).to_pylist()",
    ),
}


def installed_mb(distributions: tuple[str, ...]) -> float | None:
    """Megabytes of the distributions' installed files, or None if one is missing."""
    total = 0
    for name in distributions:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            return None
        total += sum(f.locate().stat().st_size for f in files if Path(f.locate()).is_file())
    return total / 1e6


def timed(code: str, repeats: int) -> float:
    """Median seconds of the timed part of ``code`` (it prints its own measurement)."""
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "test-00000-of-00001.parquet")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; {args.data} ({args.data.stat().st_size:,} bytes)")
    print("| reader | version | installed MB | import ms | read ms |")
    print("|---|---|---:|---:|---:|")
    for name, (dists, imp, read) in READERS.items():
        size = installed_mb(dists)
        if size is None:
            print(f"| {name} | not installed | | | |")
            continue
        import_code = (f"import time; t = time.perf_counter(); {imp}; "
                       "print(time.perf_counter() - t)")
        read_code = (f"import time; {imp}; PATH = {str(args.data)!r}; "
                     f"t0 = time.perf_counter(); {read}; print(time.perf_counter() - t0)")
        version = metadata.version(dists[0])
        print(f"| {name} | {version} | {size:.0f} | {1000 * timed(import_code, args.repeats):.0f}"
              f" | {1000 * timed(read_code, args.repeats):.0f} |")


if __name__ == "__main__":
    main()
