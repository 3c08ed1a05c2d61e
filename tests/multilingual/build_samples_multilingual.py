"""Rebuild the bundled FrenchMedMCQA sample from the release (Apache-2.0).

    python tests/multilingual/build_samples_multilingual.py [SHARED_DATA [OUT]]

The sample is the first six test items with each number of correct answers (1-5), in
release order, written as the release writes its JSON (indent 4, ASCII escapes), so it goes
through the same parser; a test checks that a rebuild reproduces the shipped file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PER_COUNT = 6


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


def main(argv: list[str]) -> None:
    shared = Path(argv[0]) if argv else ROOT.parent / "shared" / "data"
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "src" / "medq" / "data"
    target = out / "samples" / "frenchmedmcqa" / "test.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(frenchmedmcqa_sample(shared / "frenchmedmcqa" / "test.json"),
                      encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
