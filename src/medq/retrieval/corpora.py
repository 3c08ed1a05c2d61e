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
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medq import _atomic, _json
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


def _snippet(record: Any, fallback_id: str, where: str) -> Snippet:
    if not isinstance(record, dict):
        raise RetrievalError(f"{where}: expected a JSON object (a snippet)")
    body = record.get("content", record.get("contents", record.get("text")))
    if body is None:
        raise RetrievalError(f"{where}: field 'content' (or 'contents', 'text') is missing")
    known = {"id", "title", "content", "contents", "text", "metadata"}
    metadata = dict(record.get("metadata") or {})
    metadata.update({k: v for k, v in record.items() if k not in known})
    return Snippet(str(record.get("id", fallback_id)), str(record.get("title") or ""),
                   str(body), metadata)


def _decode_error(path: Path, data: bytes, exc: UnicodeDecodeError, first_line: int = 1) -> str:
    line = first_line + data[: exc.start].count(b"\n")
    return f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"


def _read_jsonl(path: Path, label: str) -> Iterator[Snippet]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RetrievalError(_decode_error(path, raw, exc, lineno)) from None
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                record = _json.loads(line)
            except json.JSONDecodeError as exc:
                raise RetrievalError(f"{where}: not valid JSON ({exc.msg})") from None
            except _json.DuplicateKeyError as exc:
                raise RetrievalError(f"{where}: {exc}") from None
            yield _snippet(record, f"{label}:{lineno - 1}", where)


def _read_file_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RetrievalError(_decode_error(path, data, exc)) from None


def _read_json(path: Path, label: str) -> Iterator[Snippet]:
    try:
        data = _json.loads(_read_file_text(path))
    except json.JSONDecodeError as exc:
        raise RetrievalError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except _json.DuplicateKeyError as exc:
        raise RetrievalError(f"{path}: {exc}") from None
    if isinstance(data, list):
        for n, record in enumerate(data):
            yield _snippet(record, f"{label}:{n}", f"{path}, item {n}")
    elif isinstance(data, dict) and all(
        isinstance(v, dict) and "CONTEXTS" in v for v in data.values()
    ):
        for pmid, item in data.items():  # PubMedQA: one abstract per PMID
            meta = {k.lower(): item[k] for k in ("YEAR", "MESHES") if k in item}
            yield Snippet(str(pmid), "", " ".join(item["CONTEXTS"]), meta)
    else:
        raise RetrievalError(f"{path}: expected a list of snippets or PubMedQA's format")


def _read_text(path: Path, label: str, chunk_words: int, overlap_words: int) -> Iterator[Snippet]:
    text = _read_file_text(path)
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


def corpus_path(name: str) -> Path:
    """The folder of corpus `name`, which must be a plain name, so that every corpus (and
    every index built over one) stays inside ``$MEDQ_HOME/corpora``: a path (``/abs``,
    ``a/../../x``, ``..``) or a hidden name is a RetrievalError. The one rule for every caller:
    `add_corpus`, `open_corpus` (``medq index build``, ``medq search``, and the
    strategies' ``corpus=``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RetrievalError(
            f"corpus name {name!r} is not a plain name: use letters, digits, '_', '-' and "
            "'.' (a corpus lives in $MEDQ_HOME/corpora; add a folder of files with "
            "`medq corpus add NAME PATH`)")
    return corpora_dir() / name


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
    """Store `snippets` as corpus `name` (see `add_corpus`); the corpus appears whole or
    not at all, and a replaced one stays readable until the new one is complete."""
    target = corpus_path(name)
    if target.exists() and not replace:
        raise RetrievalError(f"corpus {name!r} exists; pass replace=True (--replace) to rebuild")
    with _atomic.atomic_dir(target) as tmp:
        n_snippets = _write_snippets(tmp, name, snippets, source)
        info = {"name": name, "source": source, "n_snippets": n_snippets,
                "created_at": time.time(), "fingerprint": f"{n_snippets}-{time.time_ns()}",
                "settings": settings or {}}
        (tmp / "corpus.json").write_text(json.dumps(info, indent=2))
    return Corpus(target)


def _write_snippets(folder: Path, name: str, snippets: Iterable[Snippet], source: str) -> int:
    """snippets.jsonl and offsets.npy of a corpus in `folder`; returns the snippet count."""
    offsets = [0]
    seen: set[str] = set()
    with open(folder / "snippets.jsonl", "wb") as f:
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
        raise RetrievalError(f"corpus {name!r}: no snippets found in {source or 'input'}")
    np.save(folder / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    return len(offsets) - 1


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
    if chunk_words < 1 or not 0 <= overlap_words < chunk_words:
        raise RetrievalError(f"--overlap-words {overlap_words} must be at least 0 and less "
                             f"than --chunk-words {chunk_words}")
    snippets = read_snippets(path, chunk_words=chunk_words, overlap_words=overlap_words,
                             progress=progress)
    return write_corpus(
        name, snippets, source=str(Path(path).resolve()), replace=replace,
        settings={"chunk_words": chunk_words, "overlap_words": overlap_words},
    )


def open_corpus(name: str) -> Corpus:
    """The stored corpus `name`; RetrievalError naming the known ones if there is none,
    or if `name` is not a plain name (see `corpus_path`)."""
    path = corpus_path(name)
    if not (path / "corpus.json").exists():
        known = ", ".join(c["name"] for c in list_corpora()) or "none"
        raise RetrievalError(
            f"unknown corpus {name!r} (known: {known}); add it with `medq corpus add`"
        )
    return Corpus(path)


def list_corpora() -> list[dict[str, Any]]:
    """Every stored corpus's info (name, source, n_snippets, indexes), by name; the
    leftovers of killed builds are not corpora and are skipped."""
    out = []
    root = corpora_dir()
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        meta = path / "corpus.json"
        if path.name.startswith(".") or not meta.exists():
            continue
        info = json.loads(meta.read_text())
        indexes = path / "indexes"
        info["indexes"] = sorted(p.name for p in indexes.iterdir()
                                 if not p.name.startswith(".")) if indexes.is_dir() else []
        out.append(info)
    return out


def check_corpora() -> list[tuple[str, str]]:
    """(level, message) findings about every stored corpus, for ``medq doctor``: the files
    a corpus needs, and that its row offsets agree with its snippets file."""
    out = []
    root = corpora_dir()
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if not path.is_dir() or path.name.startswith("."):
            continue
        problem = _corpus_problem(path)
        if problem is not None:
            out.append(("problem", f"corpus {path.name!r} ({path}): {problem}; add it again "
                                   "with `medq corpus add --replace`"))
    if out or not root.is_dir():
        return out
    n = sum(1 for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [("ok", f"{n} corpora, each whole")] if n else []


def _corpus_problem(path: Path) -> str | None:
    missing = [f for f in ("corpus.json", "snippets.jsonl", "offsets.npy")
               if not (path / f).is_file()]
    if missing:
        return f"{missing[0]} is missing"
    try:
        info = json.loads((path / "corpus.json").read_text(encoding="utf-8"))
        offsets = np.load(path / "offsets.npy", mmap_mode="r")
    except (ValueError, OSError) as exc:
        return f"unreadable ({exc})"
    size = (path / "snippets.jsonl").stat().st_size
    if len(offsets) < 2 or int(offsets[-1]) != size:
        return f"snippets.jsonl has {size} bytes, its offsets say {int(offsets[-1])}"
    if info.get("n_snippets") != len(offsets) - 1:
        return f"corpus.json says {info.get('n_snippets')} snippets, offsets.npy {len(offsets) - 1}"
    return None
