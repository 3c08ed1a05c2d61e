"""The audit log: one append-only, hash-chained SQLite row per answered request.

Each row records when, which request and key (its prefix), which pipeline and pipeline
hash, SHA-256 of the request body and of the reply's JSON (as a non-streamed reply sends
it), the answer, its confidence, whether
the pipeline abstained, the citation IDs, the upstream call IDs (keys of medq's call
store, so a row joins to the exact prompts and responses), the HTTP status, latency and
tokens. Question and answer text are kept only for pipelines with ``store_content =
true``: privacy by default.

Rows are chained: a row's hash is the SHA-256 of the previous row's hash and the row's
own canonical JSON, so changing, inserting or deleting any row breaks the chain from there
on, and `verify` names the first row that does not hold. Triggers refuse UPDATE and
DELETE, so no medq code path can rewrite history by accident; someone with the file
can still rewrite it whole, which is why `verify` prints the head hash: record it
elsewhere (a ticket, a log shipper) and compare.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medq.serve.keys import serve_home

__all__ = ["AuditEntry", "AuditLog", "Verification", "verify_audit"]

GENESIS = "0" * 64
COLUMNS = (
    "seq", "time", "request_id", "key_prefix", "pipeline", "pipeline_hash", "input_hash",
    "output_hash", "answer", "confidence", "abstained", "citations", "upstream_calls",
    "status", "error", "latency_ms", "prompt_tokens", "completion_tokens", "question_text",
    "answer_text", "prev_hash",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    key_prefix TEXT,
    pipeline TEXT,
    pipeline_hash TEXT,
    input_hash TEXT NOT NULL,
    output_hash TEXT,
    answer TEXT,
    confidence REAL,
    abstained INTEGER,
    citations TEXT NOT NULL,
    upstream_calls TEXT NOT NULL,
    status INTEGER NOT NULL,
    error TEXT,
    latency_ms REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    question_text TEXT,
    answer_text TEXT,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
"""


@dataclass(frozen=True)
class AuditEntry:
    """What one request leaves in the log (the chain fields are added on append)."""

    request_id: str
    input_hash: str
    status: int
    latency_ms: float
    key_prefix: str | None = None
    pipeline: str | None = None
    pipeline_hash: str | None = None
    output_hash: str | None = None
    answer: str | None = None
    confidence: float | None = None
    abstained: bool | None = None
    citations: tuple[str, ...] = ()
    upstream_calls: tuple[str, ...] = ()
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    question_text: str | None = None
    answer_text: str | None = None


def _row_hash(row: Mapping[str, Any]) -> str:
    body = json.dumps({c: row[c] for c in COLUMNS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    # surrogatepass: a corrupted byte read back as a lone surrogate still hashes (and fails).
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class AuditLog:
    """The log file, ``$MEDQ_HOME/serve/audit.sqlite`` by default.

    Example:
        >>> log = AuditLog()
        >>> log.append(AuditEntry("req_1", "ab12…", 200, 12.5))
        >>> verify_audit(log.path).ok
        True
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else serve_home() / "audit.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.text_factory = _decode
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self._names = (*COLUMNS, "row_hash")
        self._insert = (
            f"INSERT INTO audit ({','.join(self._names)}) SELECT "
            f"{','.join('?' * len(self._names))} WHERE COALESCE((SELECT row_hash FROM audit "
            f"ORDER BY seq DESC LIMIT 1), '{GENESIS}') = ?")
        self._last = self._head()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _head(self) -> tuple[int, str]:
        head = self._db.execute(
            "SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (head[0], head[1]) if head else (0, GENESIS)

    def append(self, entry: AuditEntry) -> str:
        """Add `entry` as the next row; returns its hash.

        One statement inserts the row only if the log's head is still the one this process
        last saw (SQLite runs it atomically); when another process appended in between,
        the head is read again and the row chained to it. So several processes may share
        one file, and the common case costs one write.
        """
        while True:
            seq, prev = self._last
            row: dict[str, Any] = {
                **entry.__dict__,
                "seq": seq + 1,
                "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
                "abstained": None if entry.abstained is None else int(entry.abstained),
                "citations": json.dumps(list(entry.citations)),
                "upstream_calls": json.dumps(list(entry.upstream_calls)),
                "latency_ms": float(entry.latency_ms),
                "confidence": None if entry.confidence is None else float(entry.confidence),
                "prev_hash": prev,
            }
            row["row_hash"] = _row_hash(row)
            cursor = self._db.execute(self._insert, [*(row[c] for c in self._names), prev])
            if cursor.rowcount == 1:
                self._last = (seq + 1, row["row_hash"])
                return str(row["row_hash"])
            self._last = self._head()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first, as stored."""
        cursor = self._db.execute(f"SELECT {','.join(COLUMNS)}, row_hash FROM audit "
                                  "ORDER BY seq")
        names = [d[0] for d in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM audit").fetchone()[0])


@dataclass(frozen=True)
class Verification:
    """The outcome of `verify_audit`: rows checked, the head hash, the first problem."""

    rows: int
    head: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_audit(path: Path | str | None = None) -> Verification:
    """Walk the chain from the first row; the first row whose hash, link or number does
    not hold is the problem. A file SQLite cannot read is a problem too, never a crash.

    Raises:
        FileNotFoundError: there is no audit log at `path`.
    """
    path = Path(path) if path is not None else serve_home() / "audit.sqlite"
    if not path.exists():
        raise FileNotFoundError(f"no audit log at {path}")
    checked, prev = 0, GENESIS
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.text_factory = _decode
        try:
            cursor = db.execute(f"SELECT {','.join(COLUMNS)}, row_hash FROM audit ORDER BY seq")
            names = [d[0] for d in cursor.description]
            for values in cursor:
                row = dict(zip(names, values, strict=True))
                label = f"row {checked + 1} (request {row['request_id']})"
                if row["seq"] != checked + 1:
                    return Verification(checked, prev, f"row {checked + 1} is missing: the "
                                        f"next row is numbered {row['seq']}")
                if row["prev_hash"] != prev:
                    return Verification(checked, prev, f"{label} does not link to the row "
                                        "before it (a row was removed or inserted)")
                if _row_hash(row) != row["row_hash"]:
                    return Verification(checked, prev, f"{label} was changed: its content "
                                        "does not match its hash")
                prev, checked = row["row_hash"], checked + 1
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return Verification(checked, prev, f"the file cannot be read past row {checked} "
                            f"({exc}); it was damaged or altered")
    return Verification(checked, prev)
