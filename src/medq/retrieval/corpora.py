"""Corpora of snippets: MedRAG's JSONL shape, or plain text / markdown chunked into windows.

A corpus added with `add_corpus` (``medq corpus add NAME PATH``) is normalised into
``$MEDQ_HOME/corpora/NAME/``: ``snippets.jsonl`` (one ``{id, title, content, metadata}``
per line), ``offsets.npy`` (the byte offset of every line, so a snippet is read by row
without loading the file) and ``corpus.json``. Its indexes live beside it in
``indexes/``.

Inputs, from a file or a folder (read recursively, in sorted order):

- ``.jsonl`` / ``.jsonl.gz``: MedRAG's snippets (``id``, ``title``, ``content``; ``contents``
  or ``text`` are accepted for the body; other keys are kept as metadata);
- ``.json``: a list of such records, or PubMedQA's ``{pmid: {"QUESTION", "CONTEXTS", ...}}``
  (one snippet per abstract, its contexts joined);
- ``.txt`` / ``.md``: chunked into windows of `chunk_words` words overlapping by
  `overlap_words`; each chunk keeps its source file, character span and (for markdown) the
  nearest heading above it as its title.
"""

from __future__ import annotations

import gzip
import json
import mmap
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medq.progress import Progress
from medq.retrieval.base import Passage, RetrievalError
from medq.store import medq_home

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WORD = re.compile(r"\S+")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
TEXT_SUFFIXES = (".txt", ".md", ".markdown")


@dataclass(frozen=True)
class Snippet:
    """One unit of retrieval: MedRAG's (id, title, content) plus any metadata."""

    id: str
    title: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """What the retrievers index: the title, then the content."""
        return f"{self.title}\n{self.content}" if self.title else self.content


@dataclass(frozen=True)
class Chunk:
    """A window of a document: its text and character span."""

    text: str
    start: int
    end: int


def chunk_text(text: str, *, chunk_words: int = 128, overlap_words: int = 32) -> list[Chunk]:
    """Split `text` into windows of `chunk_words` words, each overlapping the previous by
    `overlap_words`; a chunk is the original text between its first and last word.

    Example:
        >>> [c.text for c in chunk_text("a b c d e", chunk_words=3, overlap_words=1)]
        ['a b c', 'c d e']
    """
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise ValueError("need chunk_words >= 1 and 0 <= overlap_words < chunk_words")
    spans = [m.span() for m in _WORD.finditer(text)]
    chunks = []
    step = chunk_words - overlap_words
    for first in range(0, len(spans), step):
        window = spans[first:first + chunk_words]
        start, end = window[0][0], window[-1][1]
        chunks.append(Chunk(text[start:end], start, end))
        if first + chunk_words >= len(spans):
            break
    return chunks


def _snippet(record: dict[str, Any], fallback_id: str) -> Snippet:
    body = record.get("content", record.get("contents", record.get("text")))
    if body is None:
        raise RetrievalError(f"snippet {fallback_id}: no 'content' (or 'contents', 'text')")
    known = {"id", "title", "content", "contents", "text", "metadata"}
    metadata = dict(record.get("metadata") or {})
    metadata.update({k: v for k, v in record.items() if k not in known})
    return Snippet(str(record.get("id", fallback_id)), str(record.get("title") or ""),
                   str(body), metadata)


def _read_jsonl(path: Path, label: str) -> Iterator[Snippet]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if line.strip():
                yield _snippet(json.loads(line), f"{label}:{n}")


def _read_json(path: Path, label: str) -> Iterator[Snippet]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        for n, record in enumerate(data):
            yield _snippet(record, f"{label}:{n}")
    elif isinstance(data, dict) and all(
        isinstance(v, dict) and "CONTEXTS" in v for v in data.values()
    ):
        for pmid, item in data.items():  # PubMedQA: one abstract per PMID
            meta = {k.lower(): item[k] for k in ("YEAR", "MESHES") if k in item}
            yield Snippet(str(pmid), "", " ".join(item["CONTEXTS"]), meta)
    else:
        raise RetrievalError(f"{path}: expected a list of snippets or PubMedQA's format")


def _read_text(path: Path, label: str, chunk_words: int, overlap_words: int) -> Iterator[Snippet]:
    text = path.read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1).strip()) for m in _HEADING.finditer(text)]
    starts = [h[0] for h in headings]
    for n, chunk in enumerate(chunk_text(text, chunk_words=chunk_words,
                                         overlap_words=overlap_words)):
        # The chunk's title: the last heading starting at or before the chunk does.
        i = int(np.searchsorted(starts, chunk.start, side="right")) - 1
        title = headings[i][1] if i >= 0 else path.stem
        yield Snippet(f"{label}#{n}", title, chunk.text,
                      {"source": label, "chunk": n, "start": chunk.start, "end": chunk.end})


def read_snippets(
    path: str | os.PathLike[str], *, chunk_words: int = 128, overlap_words: int = 32,
    progress: bool = False,
) -> Iterator[Snippet]:
    """Every snippet under `path` (a file or a folder); see the module docstring.

    With ``progress``, a bar over the files shows on a terminal (`medq.progress`).
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    found = False
    bar = Progress(len(files), f"reading {root.name}", progress, unit="files")
    for file in bar.track(files):
        label = file.relative_to(root).as_posix() if root.is_dir() else file.name
        name = file.name.lower()
        if name.endswith((".jsonl", ".jsonl.gz")):
            found = True
            yield from _read_jsonl(file, label)
        elif name.endswith(".json"):
            found = True
            yield from _read_json(file, label)
        elif name.endswith(TEXT_SUFFIXES):
            found = True
            yield from _read_text(file, label, chunk_words, overlap_words)
    if not found:
        raise RetrievalError(f"{root}: no .jsonl, .jsonl.gz, .json, .txt or .md files")


def corpora_dir() -> Path:
    """Where corpora live: ``$MEDQ_HOME/corpora``."""
    return medq_home() / "corpora"


class Corpus:
    """A stored corpus: snippets by row, read from disk on demand.

    Example:
        >>> corpus = open_corpus("glianorex")
        >>> len(corpus), corpus.snippet(0).title
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.info: dict[str, Any] = json.loads((path / "corpus.json").read_text())
        except FileNotFoundError:
            raise RetrievalError(f"no corpus at {path}") from None
        self.name: str = self.info["name"]
        self._offsets = np.load(path / "offsets.npy", mmap_mode="r")
        with open(path / "snippets.jsonl", "rb") as f:  # the map outlives the descriptor
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, {len(self)} snippets)"

    @property
    def fingerprint(self) -> str:
        """Changes whenever the corpus is re-added; indexes record it to detect staleness."""
        return str(self.info["fingerprint"])

    def index_dir(self, kind: str) -> Path:
        """Where the index named `kind` (``bm25``, ``dense-<model>``) is stored."""
        return self.path / "indexes" / kind

    def snippet(self, row: int) -> Snippet:
        """The snippet at `row`."""
        if not 0 <= row < len(self):
            raise IndexError(f"corpus {self.name!r} has no row {row}")
        record = json.loads(self._map[int(self._offsets[row]):int(self._offsets[row + 1])])
        return Snippet(record["id"], record["title"], record["content"],
                       record.get("metadata", {}))

    def passages(self, rows: Sequence[int], scores: Sequence[float]) -> list[Passage]:
        """Passages for `rows` with their `scores`, tagged with this corpus's name."""
        out = []
        for row, score in zip(rows, scores, strict=True):
            s = self.snippet(int(row))
            out.append(Passage(s.id, s.title, s.content, float(score), self.name, s.metadata))
        return out

    def texts(self) -> Iterator[str]:
        """Every snippet's indexed text, in row order, streamed from disk."""
        for row in range(len(self)):
            yield self.snippet(row).text()

    def snippets(self) -> Iterator[Snippet]:
        """Every snippet, in row order."""
        for row in range(len(self)):
            yield self.snippet(row)

    def close(self) -> None:
        """Release the memory map (garbage collection does it too)."""
        self._map.close()


def write_corpus(name: str, snippets: Iterable[Snippet], *, source: str = "",
                 settings: dict[str, Any] | None = None, replace: bool = False) -> Corpus:
    """Store `snippets` as corpus `name` (see `add_corpus`)."""
    if not _NAME.match(name):
        raise RetrievalError(f"corpus name {name!r}: use letters, digits, '_', '-', '.'")
    target = corpora_dir() / name
    if target.exists() and not replace:
        raise RetrievalError(f"corpus {name!r} exists; pass replace=True (--replace) to rebuild")
    tmp = corpora_dir() / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    offsets = [0]
    seen: set[str] = set()
    with open(tmp / "snippets.jsonl", "wb") as f:
        for s in snippets:
            if s.id in seen:
                raise RetrievalError(f"corpus {name!r}: snippet ID {s.id!r} occurs twice")
            seen.add(s.id)
            record: dict[str, Any] = {"id": s.id, "title": s.title, "content": s.content}
            if s.metadata:
                record["metadata"] = s.metadata
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    if len(offsets) == 1:
        shutil.rmtree(tmp)
        raise RetrievalError(f"corpus {name!r}: no snippets found in {source or 'input'}")
    np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    info = {"name": name, "source": source, "n_snippets": len(offsets) - 1,
            "created_at": time.time(), "fingerprint": f"{len(offsets) - 1}-{time.time_ns()}",
            "settings": settings or {}}
    (tmp / "corpus.json").write_text(json.dumps(info, indent=2))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return Corpus(target)


def add_corpus(
    name: str,
    path: str | os.PathLike[str],
    *,
    chunk_words: int = 128,
    overlap_words: int = 32,
    replace: bool = False,
    progress: bool = True,
) -> Corpus:
    """Read `path` (file or folder; see the module docstring) into corpus `name`, with a
    progress bar over the files on a terminal (``progress=False``: never).

    Example:
        >>> add_corpus("glianorex", "../shared/data/glianorex_books")
        Corpus('glianorex', ... snippets)
    """
    snippets = read_snippets(path, chunk_words=chunk_words, overlap_words=overlap_words,
                             progress=progress)
    return write_corpus(
        name, snippets, source=str(Path(path).resolve()), replace=replace,
        settings={"chunk_words": chunk_words, "overlap_words": overlap_words},
    )


def open_corpus(name: str) -> Corpus:
    """The stored corpus `name`; RetrievalError naming the known ones if there is none."""
    path = corpora_dir() / name
    if not (path / "corpus.json").exists():
        known = ", ".join(c["name"] for c in list_corpora()) or "none"
        raise RetrievalError(
            f"unknown corpus {name!r} (known: {known}); add it with `medq corpus add`"
        )
    return Corpus(path)


def list_corpora() -> list[dict[str, Any]]:
    """Every stored corpus's info (name, source, n_snippets, indexes), by name."""
    out = []
    root = corpora_dir()
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        meta = path / "corpus.json"
        if meta.exists():
            info = json.loads(meta.read_text())
            indexes = path / "indexes"
            info["indexes"] = sorted(p.name for p in indexes.iterdir()) if indexes.is_dir() \
                else []
            out.append(info)
    return out
