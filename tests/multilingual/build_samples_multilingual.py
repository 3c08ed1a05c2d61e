"""Rebuild the bundled FrenchMedMCQA (Apache-2.0) and VQA-RAD (CC0) samples.

    python tests/multilingual/build_samples_multilingual.py [SHARED_DATA [OUT]]

FrenchMedMCQA: the first six test items with each number of correct answers (1-5), in
release order, written as the release writes its JSON (indent 4, ASCII escapes). VQA-RAD:
every test question about the six smallest test images (by file size, ties by name), in
release order, with those images copied byte for byte. Both go through the tasks' own
parsers; a test checks that a rebuild reproduces the shipped files.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PER_COUNT = 6
VQA_RAD_IMAGES = 6


def frenchmedmcqa_sample(release: Path) -> str:
    """The sample file's text, from the release's ``test.json``."""
    records = json.loads(release.read_text(encoding="utf-8"))
    taken: dict[int, int] = {}
    chosen = []
    for record in records:
        count = record["nbr_correct_answers"]
        if taken.get(count, 0) < PER_COUNT:
            taken[count] = taken.get(count, 0) + 1
            chosen.append(record)
    return json.dumps(chosen, indent=4) + "\n"


def vqa_rad_sample(release: Path) -> tuple[str, list[str]]:
    """The sample's testset.json text and its image names, from the release folder."""
    records = json.loads((release / "testset.json").read_text(encoding="utf-8"))
    images = release / "test_images"
    names = sorted({r["image_name"] for r in records},
                   key=lambda n: ((images / n).stat().st_size, n))[:VQA_RAD_IMAGES]
    chosen = [r for r in records if r["image_name"] in names]
    return json.dumps(chosen, indent=4) + "\n", sorted(names)


def main(argv: list[str]) -> None:
    shared = Path(argv[0]) if argv else ROOT.parent / "shared" / "data"
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "src" / "medq" / "data"
    target = out / "samples" / "frenchmedmcqa" / "test.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(frenchmedmcqa_sample(shared / "frenchmedmcqa" / "test.json"),
                      encoding="utf-8")
    print(f"wrote {target}")
    text, names = vqa_rad_sample(shared / "vqa_rad")
    folder = out / "samples" / "vqa_rad"
    (folder / "test_images").mkdir(parents=True, exist_ok=True)
    (folder / "testset.json").write_text(text, encoding="utf-8")
    for name in names:
        shutil.copyfile(shared / "vqa_rad" / "test_images" / name, folder / "test_images" / name)
    print(f"wrote {folder} ({len(names)} images)")


if __name__ == "__main__":
    main(sys.argv[1:])
