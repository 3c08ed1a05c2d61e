"""Shared plumbing of the visual QA loaders: images by content, closed/open items, pairs.

An item's images are loaded once per file (`ImageFolder`), hashed by content; a question
whose image file is missing is a `TaskDataError` naming the item and the file, never an
item silently shown without its image.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medq.scoring.vqa import closed_options, gold_option
from medq.tasks._io import data_error
from medq.types import Image, Question


class ImageFolder:
    """Images under a folder, loaded (read and hashed) once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[str, Image] = {}

    def get(self, relative: str, source: Path, where: str) -> Image:
        """The image at ``root/relative``; a TaskDataError naming `source` and `where` when
        it is missing or not an image."""
        found = self._loaded.get(relative)
        if found is not None:
            return found
        path = self.root / relative
        try:
            image = Image.from_path(path)
        except FileNotFoundError:
            raise data_error(source, where, f"image {relative!r} is not in {self.root}") from None
        except (OSError, ValueError) as exc:
            raise data_error(source, where, f"image {relative!r}: {exc}") from None
        self._loaded[relative] = image
        return image


def scalar(record: Mapping[str, Any], name: str, source: Path, where: str) -> str:
    """record[name] as text: present, a string or a number."""
    value = record.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        what = "missing" if value is None else f"a {type(value).__name__}, not text"
        raise data_error(source, where, f"field {name!r} is {what}")
    return str(value)


def vqa_question(
    source: Path,
    where: str,
    *,
    id: str,
    question: str,
    answer: Any,
    answer_type: str,
    images: tuple[Image, ...],
    metadata: Mapping[str, Any],
) -> Question:
    """A short-answer visual question: closed (with its options and the reference's
    option) or open; the release's answer type decides, written CLOSED/OPEN or closed/open."""
    kind = str(answer_type).strip().lower()
    if kind not in ("closed", "open"):
        raise data_error(source, where, f"answer type {answer_type!r} is not CLOSED or OPEN")
    gold = str(answer).strip()
    if not gold:
        raise data_error(source, where, "the answer is empty")
    meta: dict[str, Any] = {**metadata, "answer_type": kind}
    if kind == "closed":
        options = closed_options(question, gold)
        meta["closed_options"] = options
        meta["gold_option"] = gold_option(question, gold, options)
    return Question(id, question, {}, gold, metadata=meta, images=images)
