"""Image encoding throughput: VQA-RAD's 203 test images into request bodies, and DICOM to PNG.

Three passes over the images of every VQA-RAD test question (451 questions, 203 images),
each in a fresh process so no memo is warm at the start:

- load: read and hash every image file (`Image.from_path`, what the task loader does);
- encode, first run: base64 data URL of each image (`medq.images.data_url`) and the
  OpenAI request body of every question (`json.dumps` of the content-part message);
- encode, cached: the same again in the same process (data URLs memoised by hash).

And the DICOM files pydicom ships (CT, MR, ultrasound): rendered to windowed PNG with an
empty image cache, then again from the cache (``$MEDQ_HOME/cache/images``).

    .venv/bin/python bench/bench_images.py [--data ../shared/data/vqa_rad] [--repeats 5]

Prints medians of `--repeats` fresh-process runs, as images (or files) per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "vqa_rad"
DICOM = ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "examples_rgb_color.dcm",
         "examples_palette.dcm", "examples_ybr_color.dcm")

ENCODE = r"""
import json, sys, time
from pathlib import Path
from medq.images import data_url
from medq.models.openai_compat import _message
from medq.types import Image, Message

records = json.loads(Path(sys.argv[1], "testset.json").read_text())
names = [r["image_name"] for r in records]
t0 = time.perf_counter()
images = {n: Image.from_path(Path(sys.argv[1], "test_images", n)) for n in dict.fromkeys(names)}
t1 = time.perf_counter()

def encode():
    total = 0
    for record in records:
        message = Message("user", record["question"], (images[record["image_name"]],))
        total += len(json.dumps({"model": "m", "messages": [_message(message)]}))
    return total

size = encode()
t2 = time.perf_counter()
encode()
t3 = time.perf_counter()
print(json.dumps({"images": len(images), "questions": len(records), "bytes": size,
                  "load_s": t1 - t0, "first_s": t2 - t1, "cached_s": t3 - t2}))
"""

DICOM_RUN = r"""
import json, sys, time
from pydicom.data import get_testdata_file
from medq.images import from_dicom
paths = [get_testdata_file(n, download=False) for n in sys.argv[1].split(",")]
t0 = time.perf_counter()
for p in paths: from_dicom(p)
t1 = time.perf_counter()
for p in paths: from_dicom(p)
t2 = time.perf_counter()
print(json.dumps({"files": len(paths), "cold_s": t1 - t0, "cached_s": t2 - t1}))
"""


def run(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    encoded = [run(ENCODE, str(args.data)) for _ in range(args.repeats)]
    first = encoded[0]
    n = first["images"]
    for key, label in (("load_s", "load (read + SHA-256)"),
                       ("first_s", "encode, first run (data URLs + 451 bodies)"),
                       ("cached_s", "encode, cached (memoised data URLs)")):
        median = statistics.median(e[key] for e in encoded)
        print(f"{label:48s} {median * 1000:8.1f} ms  {n / median:10.0f} images/s")
    print(f"request bytes for the 451 questions: {first['bytes'] / 1e6:.1f} MB")
    dicom = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as home:
            dicom.append(run(DICOM_RUN, ",".join(DICOM), env={**os.environ, "MEDQ_HOME": home}))
    files = dicom[0]["files"]
    for key, label in (("cold_s", "DICOM -> PNG, empty cache"),
                       ("cached_s", "DICOM -> PNG, from the cache")):
        median = statistics.median(d[key] for d in dicom)
        print(f"{label:48s} {median * 1000:8.1f} ms  {files / median:10.0f} files/s")


if __name__ == "__main__":
    main()
