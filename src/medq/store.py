"""SQLite store: runs, per-item results, and every model call (the call log is the cache).

One file, ``$MEDQ_HOME/medq.sqlite`` (default ``~/.medq``), in WAL mode. The schema grows
through append-only named migrations, as in simonw/llm. Rows are stored compactly
(`medq._store_codec`) and read back exactly.

Durability: an item's result commits in one transaction together with the calls it made
and had not yet written, before the next item is reported, so a run killed with SIGKILL
loses nothing it had finished. A call made in an event loop is written with its item's
result when the item finishes in the same step (a one-call item: one transaction per
item), else at the end of that loop iteration, before the loop waits on anything again,
so a finished call is never asked for twice either. Until it is written, this Store
answers lookups of it from memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medq._store_codec import (
    MIGRATION_FUNCTIONS,
    key_bytes,
    key_text,
    pack_json,
    pack_keys,
    response_ref,
    unpack_json,
    unpack_keys,
    unpack_response_ref,
)
from medq._store_open import (
    RESULT_TABLES,
    StoreError,
    connect,
    corrupt_message,
    store_error,
)

if TYPE_CHECKING:
    from medq.results import Counts, SampleResult

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "m001_initial",
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            status TEXT NOT NULL,
            task TEXT NOT NULL,
            model TEXT NOT NULL,
            strategy TEXT NOT NULL,
            spec TEXT NOT NULL,
            info TEXT NOT NULL,
            wall_s REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE samples (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            item_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            choice TEXT,
            gold TEXT NOT NULL,
            correct INTEGER,
            truncated INTEGER NOT NULL,
            confidence REAL,
            reason TEXT,
            response TEXT NOT NULL,
            details TEXT NOT NULL,
            calls INTEGER NOT NULL,
            new_calls INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            call_keys TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (run_id, item_id)
        );
        CREATE TABLE calls (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            kind TEXT NOT NULL,
            request TEXT NOT NULL,
            response TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_s REAL NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE call_errors (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT,
            item_id TEXT,
            key TEXT NOT NULL,
            error TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """,
    ),
    (
        # Results are kept per extractor version: a rescore adds rows, never overwrites
        # the earlier reading, and each row carries the reading it came from.
        "m002_results_by_extractor",
        """
        CREATE TABLE samples_by_extractor (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            item_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            choice TEXT,
            gold TEXT NOT NULL,
            correct INTEGER,
            truncated INTEGER NOT NULL,
            confidence REAL,
            reason TEXT,
            response TEXT NOT NULL,
            details TEXT NOT NULL,
            calls INTEGER NOT NULL,
            new_calls INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            call_keys TEXT NOT NULL,
            created_at REAL NOT NULL,
            extractor TEXT NOT NULL,
            reading TEXT,
            PRIMARY KEY (run_id, item_id, extractor)
        );
        INSERT INTO samples_by_extractor
            SELECT s.run_id, s.item_id, s.position, s.status, s.choice, s.gold, s.correct,
                   s.truncated, s.confidence, s.reason, s.response, s.details, s.calls,
                   s.new_calls, s.prompt_tokens, s.completion_tokens, s.call_keys,
                   s.created_at,
                   COALESCE(json_extract(r.info, '$.extractor_version'), '1'), NULL
            FROM samples s LEFT JOIN runs r ON r.run_id = s.run_id;
        DROP TABLE samples;
        ALTER TABLE samples_by_extractor RENAME TO samples
        """,
    ),
    (
        # Tables of its own, so it applies before or after any other migration.
        "m003_run_liveness",
        """
        CREATE TABLE run_liveness (
            run_id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat REAL NOT NULL,
            failure TEXT
        );
        CREATE TABLE sample_response_refs (
            run_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            extractor TEXT NOT NULL,
            call_key TEXT NOT NULL,
            generation INTEGER NOT NULL,
            PRIMARY KEY (run_id, item_id, extractor)
        );
        """,
    ),
    (
        # Request texts stored once per distinct content (the system prompt, an item's
        # prompt shared by every model and run, tool schemas): a call's request refers to
        # them by hash and reads back exactly. Its own table: applies in any order.
        "m005_shared_request_texts",
        """
        CREATE TABLE request_texts (
            hash TEXT PRIMARY KEY,
            text TEXT NOT NULL
        );
        """,
    ),
    (
        # A judged item's score (a rubric task's points fraction, which may be negative);
        # NULL for rule-scored items and for items the judge could not grade.
        "m004_graded_scores",
        """
        ALTER TABLE samples ADD COLUMN score REAL
        """,
    ),
    (
        # A judge's (or jury's) meta-evaluation against physicians' labels (`medq judge
        # meta`), keyed by the judges' models and the judge prompt's hash, so every run
        # judged by them under that prompt shows it. Its own table: applies in any order.
        "m006_judge_meta",
        """
        CREATE TABLE judge_meta (
            judges TEXT NOT NULL,
            prompt_hash TEXT NOT NULL,
            result TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (judges, prompt_hash)
        );
        """,
    ),
    (
        # Compact rows (medq._store_codec): calls keyed by their 32 key bytes in one
        # b-tree (no separate key index), JSON values deflated against a fixed dictionary,
        # an item's call keys as bytes, and its response reference inside the row (the
        # separate table of references is folded in). Every row is rewritten by the
        # m007_* functions (frozen with this migration) and reads back exactly.
        "m007_compact_rows",
        """
        CREATE TABLE samples_compact (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            item_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            choice TEXT,
            gold TEXT NOT NULL,
            correct INTEGER,
            truncated INTEGER NOT NULL,
            confidence REAL,
            reason TEXT,
            response NOT NULL,
            details BLOB NOT NULL,
            calls INTEGER NOT NULL,
            new_calls INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            call_keys BLOB NOT NULL,
            created_at REAL NOT NULL,
            extractor TEXT NOT NULL,
            reading BLOB,
            score REAL,
            PRIMARY KEY (run_id, item_id, extractor)
        ) WITHOUT ROWID;
        INSERT INTO samples_compact
            SELECT s.run_id, s.item_id, s.position, s.status, s.choice, s.gold, s.correct,
                   s.truncated, s.confidence, s.reason,
                   CASE WHEN r.call_key IS NULL THEN s.response ELSE COALESCE(
                       m007_ref(s.call_keys, r.call_key, r.generation),
                       (SELECT json_extract(c.response, '$.generations[' || r.generation
                                            || '].text')
                        FROM calls c WHERE c.key = r.call_key)) END,
                   m007_pack(s.details), s.calls, s.new_calls, s.prompt_tokens,
                   s.completion_tokens, m007_keys(s.call_keys), s.created_at, s.extractor,
                   m007_pack(s.reading), s.score
            FROM samples s LEFT JOIN sample_response_refs r
                ON r.run_id = s.run_id AND r.item_id = s.item_id AND r.extractor = s.extractor;
        DROP TABLE samples;
        ALTER TABLE samples_compact RENAME TO samples;
        DROP TABLE sample_response_refs;
        CREATE TABLE calls_compact (
            key BLOB PRIMARY KEY,
            model TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            kind TEXT NOT NULL,
            request BLOB NOT NULL,
            response BLOB NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            latency_s REAL NOT NULL,
            created_at REAL NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO calls_compact
            SELECT m007_key(key), model, endpoint, kind, m007_pack(request),
                   m007_pack(response), prompt_tokens, completion_tokens, latency_s,
                   created_at
            FROM calls;
        DROP TABLE calls;
        ALTER TABLE calls_compact RENAME TO calls
        """,
    ),
)

_TEXT_REF = re.compile(r'"\$text":"([0-9a-f]{64})"')
_OPTIONS_KEPT = 50_000  # parsed option lists a Store keeps (tens of MB at most)
SHARED_TEXT_MIN = 64
"""Message contents shorter than this stay inline (a reference would not be smaller)."""
PENDING_MAX = 256
"""Calls not yet written are written at once when this many wait (a bound on memory)."""

SAMPLE_COLUMNS = (
    "run_id", "item_id", "position", "status", "choice", "gold", "correct", "truncated",
    "confidence", "reason", "response", "details", "calls", "new_calls", "prompt_tokens",
    "completion_tokens", "call_keys", "created_at", "extractor", "reading", "score",
)
_INSERT_SAMPLE = (f"INSERT OR REPLACE INTO samples ({','.join(SAMPLE_COLUMNS)}) "
                  f"VALUES ({','.join('?' * len(SAMPLE_COLUMNS))})")


def medq_home() -> Path:
    """medq's data directory: ``$MEDQ_HOME`` or ``~/.medq``."""
    return Path(os.environ.get("MEDQ_HOME") or Path.home() / ".medq")


# One encoder for every call: `json.dumps` with options builds a new one each time, which
# costs a quarter of encoding a typical row.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact, key-sorted JSON: the same value always gives the same bytes."""
    return _CANONICAL.encode(value)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


class RunNotFoundError(LookupError):
    """No run with that ID (or unique ID prefix) is in the store."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class StoredCall:
    """One cached model call."""

    key: str
    kind: str
    request: dict[str, Any]
    response: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


@dataclass(frozen=True)
class _Pending:
    """A call made but not yet written: its row, the shared texts it refers to, and the
    call as lookups see it."""

    row: tuple[Any, ...]
    texts: list[tuple[str, str]]
    call: StoredCall


class Store:
    """medq's SQLite database. Use one Store per process; it is not shared across threads."""

    def __init__(
        self, path: Path | str | None = None, *, readonly: bool = False, verify: bool = True
    ) -> None:
        """Open (or create) the store.

        Args:
            path: the SQLite file; default ``$MEDQ_HOME/medq.sqlite``.
            readonly: open for reading only, as `runs`, `show`, `export`, `report` and
                `compare` do: nothing is created or written, a read-only store or file
                system works, a missing store reads as empty, and the tables holding
                results are checked for corruption first (unless `verify` is False).

        Raises:
            StoreError: one line saying what is wrong with which file and what to do (a
                file where the folder should be, a read-only or full disk, a store that is
                empty, not SQLite, or corrupt).
        """
        self.path = Path(path) if path is not None else medq_home() / "medq.sqlite"
        self.readonly = readonly
        self._pending: dict[str, _Pending] = {}
        self._flush_scheduled = False
        # Hashes of shared texts known to be stored (texts are never deleted), so a text
        # every call shares (the system prompt) is not written again and again.
        self._texts_known: set[str] = set()
        self._texts_this_transaction: set[str] = set()
        # Shared option lists by content hash, parsed once: the same item's options are read
        # by every run and extractor version of it. Content-addressed, so never stale.
        self._options: dict[str, Any] = {}
        try:
            self._db = connect(self.path, readonly)
            self._db.row_factory = sqlite3.Row
            if readonly:
                self._check_readable(verify)
            else:
                self._migrate()
        except (sqlite3.Error, OSError) as exc:
            error = store_error(exc, self.path)
            if error is None:
                raise
            raise error from None

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY)")
        done = {row[0] for row in self._db.execute("SELECT name FROM _migrations")}
        for function, (arity, body) in MIGRATION_FUNCTIONS.items():
            self._db.create_function(function, arity, body, deterministic=True)
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            self._db.execute("BEGIN")
            try:
                for statement in sql.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
            except BaseException:
                self._db.execute("ROLLBACK")  # a migration applies whole or not at all
                raise
            self._db.execute("COMMIT")

    def _check_readable(self, verify: bool) -> None:
        """A read-only store must be medq's, up to date, and intact where results live."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if not tables:  # no store yet, or one created but never written: no runs yet
            self._db.close()
            self._db = sqlite3.connect(":memory:", isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._migrate()
            return
        if "_migrations" not in tables:
            raise StoreError(f"{self.path} is an SQLite database but not a medq store: set "
                             "MEDQ_HOME to medq's folder")
        done = {row[0] for row in self._db.execute("SELECT name FROM _migrations")}
        if any(name not in done for name, _ in MIGRATIONS):
            self._upgrade_then_reopen()
        if verify:
            self.verify(RESULT_TABLES)

    def _upgrade_then_reopen(self) -> None:
        """A store written by an older medq: apply the new migrations if it can be written
        (a reading command writes nothing else), else say how to upgrade it."""
        self._db.close()
        try:
            with Store(self.path):
                pass
        except StoreError as exc:
            raise StoreError(
                f"the store {self.path} was written by an older medq and must be upgraded, "
                f"but it cannot be written ({exc}): open it once where it is writable"
            ) from None
        self._db = connect(self.path, readonly=True)
        self._db.row_factory = sqlite3.Row

    def verify(self, tables: Sequence[str] = RESULT_TABLES) -> None:
        """SQLite's quick check of `tables` and their indexes; StoreError if they are damaged."""
        for table in tables:
            try:
                rows = self._db.execute(f"PRAGMA quick_check({table})").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    continue
                raise
            if [tuple(r) for r in rows] != [("ok",)]:
                raise StoreError(corrupt_message(self.path, f"table {table}: {rows[0][0]}"))

    def health(self) -> list[tuple[str, str]]:
        """What ``medq doctor`` checks inside the database, as (level, message) pairs with
        level "ok", "note" or "problem": SQLite's full integrity check, items of runs that
        do not exist, runs with no items, and runs still marked running."""
        try:
            errors = [r[0] for r in self._db.execute("PRAGMA integrity_check(20)")]
        except sqlite3.DatabaseError as exc:
            # Damage SQLite's own check cannot walk past (e.g. a table's root page).
            return [("problem", corrupt_message(self.path, f"integrity_check stopped: {exc}"))]
        if errors != ["ok"]:
            found = [("problem", f"integrity_check: {e}") for e in errors[:5]]
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            return [*found, ("problem", corrupt_message(self.path, f"{len(errors)} errors{more}"))]
        out = []

        def one(sql: str) -> Any:
            return self._db.execute(sql).fetchone()

        n_runs, n_samples, n_calls = (one(f"SELECT COUNT(*) FROM {t}")[0]
                                      for t in ("runs", "samples", "calls"))
        out.append(("ok", f"integrity_check ok: {n_runs} runs, {n_samples} items, "
                          f"{n_calls} stored calls"))
        orphans = one("SELECT COUNT(*), MIN(run_id) FROM samples "
                      "WHERE run_id NOT IN (SELECT run_id FROM runs)")
        if orphans[0]:
            out.append(("problem", f"{orphans[0]} items belong to no run (e.g. run "
                                   f"{orphans[1]!r}): no command shows them"))
        stray = one("SELECT COUNT(*) FROM call_errors WHERE run_id IS NOT NULL "
                    "AND run_id NOT IN (SELECT run_id FROM runs)")[0]
        if stray:
            out.append(("note", f"{stray} recorded call errors belong to no run"))
        empty = [r[0] for r in self._db.execute(
            "SELECT run_id FROM runs r WHERE NOT EXISTS "
            "(SELECT 1 FROM samples s WHERE s.run_id = r.run_id) ORDER BY run_id")]
        if empty:
            out.append(("note", f"{len(empty)} runs have no items stored (e.g. {empty[0]}): "
                                "started and stopped before the first item finished"))
        marked = [r[0] for r in self._db.execute(
            "SELECT run_id FROM runs WHERE status = 'running' ORDER BY run_id")]
        stale = [r for r in marked if self._live_status(r, "running") == "stale"]
        running = [r for r in marked if r not in stale]
        if running:
            out.append(("ok", f"{len(running)} runs are running now (e.g. {running[0]})"))
        if stale:
            out.append(("note", f"{len(stale)} runs are stale (e.g. {stale[0]}): marked "
                                "running, but their process is gone (killed); the same "
                                "command resumes them"))
        return out

    def close(self) -> None:
        """Write the calls not yet written, and close the database."""
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls (the cache) -------------------------------------------------------------

    def get_call(self, key: str) -> StoredCall | None:
        """The cached call with this key, or None."""
        pending = self._pending.get(key)
        if pending is not None:
            return pending.call
        row = self._db.execute("SELECT * FROM calls WHERE key = ?",
                               (key_bytes(key),)).fetchone()
        return None if row is None else self._call(row)

    def _call(self, row: sqlite3.Row, texts: Mapping[str, str] | None = None) -> StoredCall:
        text = unpack_json(row["request"])
        request = json.loads(text)
        if text.find('"$text"') >= 0:
            request = self._expand(request, texts)
        return StoredCall(
            key=key_text(row["key"]),
            kind=row["kind"],
            request=request,
            response=json.loads(unpack_json(row["response"])),
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            latency_s=row["latency_s"],
        )

    def _expand(self, request: dict[str, Any], texts: Mapping[str, str] | None) -> dict[str, Any]:
        """The request with every shared-text reference replaced by its text."""

        def text(ref: Mapping[str, str]) -> str:
            found = texts.get(ref["$text"]) if texts is not None else None
            if found is None:
                row = self._db.execute("SELECT text FROM request_texts WHERE hash=?",
                                       (ref["$text"],)).fetchone()
                if row is None:
                    raise StoreError(
                        f"{self.path}: a stored request refers to text {ref['$text'][:12]} "
                        "that is not in the store (run `medq doctor`)")
                found = str(row[0])
            return found

        for message in request.get("messages") or ():
            if isinstance(message.get("content"), dict) and "$text" in message["content"]:
                message["content"] = text(message["content"])
        if isinstance(request.get("tools"), dict) and "$text" in request["tools"]:
            request["tools"] = json.loads(text(request["tools"]))
        return request

    def _share(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The request with long message texts and tool schemas as references, and the
        (hash, text) rows they refer to."""
        shared: list[tuple[str, str]] = []

        def ref(text: str) -> dict[str, str]:
            digest = hashlib.sha256(text.encode()).hexdigest()
            shared.append((digest, text))
            return {"$text": digest}

        compact = dict(request)
        messages = []
        for message in request.get("messages") or ():
            content = message.get("content")
            if isinstance(content, str) and len(content) >= SHARED_TEXT_MIN:
                message = {**message, "content": ref(content)}
            messages.append(message)
        if "messages" in request:
            compact["messages"] = messages
        if request.get("tools"):
            compact["tools"] = ref(canonical_json(request["tools"]))
        return compact, shared

    def put_call(
        self,
        key: str,
        *,
        model: str,
        endpoint: str,
        kind: str,
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        prompt_tokens: int,
        completion_tokens: int,
        latency_s: float,
        defer: bool = False,
    ) -> None:
        """Record a successful call; the first record of a key wins.

        Long message texts and tool schemas are stored once per distinct content (in the
        same transaction as the call, so a call never refers to a text that is missing).
        With `defer`, the call is written with the next transaction (an item's result:
        see the module docstring) and answered from memory until then."""
        if key in self._pending:
            return
        compact, shared = self._share(request)
        row = (key_bytes(key), model, endpoint, kind, pack_json(canonical_json(compact)),
               pack_json(canonical_json(response)), prompt_tokens, completion_tokens,
               latency_s, time.time())
        if not defer:
            with self._transaction(shared):
                self._write_calls([row])
            return
        call = StoredCall(key, kind, dict(request), dict(response), prompt_tokens,
                          completion_tokens, latency_s)
        self._pending[key] = _Pending(row, shared, call)
        if len(self._pending) >= PENDING_MAX:
            self.flush()
        elif not self._flush_scheduled:
            import asyncio  # here: reading commands never load it

            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop: nothing comes after this step to wait for
                self.flush()
                return
            self._flush_scheduled = True
            loop.call_soon(self._scheduled_flush)

    def flush(self) -> None:
        """Write (and commit) the calls not yet written."""
        if self._pending:
            with self.transaction():
                pass  # a transaction writes the pending calls first

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        # A failure here is the store's (a full disk): the item's own write meets it next
        # and reports it as one line; a loop callback would only print a traceback.
        with contextlib.suppress(sqlite3.Error, OSError, StoreError):
            self.flush()

    def _write_calls(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO calls VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def _write_texts(self, texts: Sequence[tuple[str, str]]) -> None:
        """Shared texts (hash, text), skipping those this Store knows are stored."""
        new = {h: t for h, t in texts
               if h not in self._texts_known and h not in self._texts_this_transaction}
        if new:
            self._db.executemany(
                "INSERT OR IGNORE INTO request_texts (hash, text) VALUES (?, ?)", new.items())
            self._texts_this_transaction.update(new)

    def put_call_error(self, key: str, error: str, run_id: str | None, item_id: str | None) -> None:
        """Record a call that failed for good (after retries)."""
        self._db.execute(
            "INSERT INTO call_errors (run_id, item_id, key, error, created_at) VALUES (?,?,?,?,?)",
            (run_id, item_id, key, error, time.time()),
        )

    def count_calls(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def calls_for(self, keys: list[str]) -> list[StoredCall]:
        """Cached calls by key, in the given order (missing keys skipped).

        One query per 500 keys rather than one per key: reports read tens of thousands.
        """
        self.flush()
        rows: dict[str, StoredCall] = {}
        unique = [key_bytes(k) for k in dict.fromkeys(keys)]
        texts: dict[str, str] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            fetched = [(row, unpack_json(row["request"])) for row in self._db.execute(
                f"SELECT * FROM calls WHERE key IN ({marks})", chunk).fetchall()]
            wanted = {h for _, request in fetched for h in _TEXT_REF.findall(request)}
            self._fetch_texts(wanted - texts.keys(), texts)
            for row, _ in fetched:
                call = self._call(row, texts)
                rows[call.key] = call
        return [rows[k] for k in keys if k in rows]

    def _fetch_texts(self, hashes: set[str], into: dict[str, str]) -> None:
        """Read shared request texts by hash into `into`, 500 at a time."""
        wanted = sorted(hashes)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for h, t in self._db.execute(
                    f"SELECT hash, text FROM request_texts WHERE hash IN ({marks})", chunk):
                into[str(h)] = str(t)

    # --- runs and samples -------------------------------------------------------------

    def create_or_resume_run(
        self,
        run_id: str,
        *,
        task: str,
        model: str,
        strategy: str,
        spec: Mapping[str, Any],
        info: Mapping[str, Any],
        keep_extractor: bool = False,
    ) -> bool:
        """Create the run, or mark an existing one running again. True when it existed.

        With `keep_extractor`, a resumed run keeps the extractor version its stored
        results were read with (the caller rescores before adding new results).
        """
        now = time.time()
        existed = self._db.execute("SELECT info FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if existed:
            if keep_extractor:
                before = json.loads(existed[0]).get("extractor_version")
                info = {**info, "extractor_version": before or "1"}
            self._db.execute(
                "UPDATE runs SET status='running', updated_at=?, info=? WHERE run_id=?",
                (now, canonical_json(info), run_id),
            )
            return True
        self._db.execute(
            "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,0)",
            (
                run_id,
                now,
                now,
                "running",
                task,
                model,
                strategy,
                canonical_json(spec),
                canonical_json(info),
            ),
        )
        return False

    def finish_run(self, run_id: str, status: str, wall_s: float) -> None:
        """Set the run's final status and add this session's wall time."""
        with self.transaction():
            self._db.execute(
                "UPDATE runs SET status=?, updated_at=?, wall_s=wall_s+? WHERE run_id=?",
                (status, time.time(), wall_s, run_id),
            )

    def put_sample(self, run_id: str, row: Mapping[str, Any]) -> None:
        """Record (or replace) one item's result under its extractor version.

        One transaction writes the result, the calls not yet written (the item's own among
        them) and the texts they refer to, or nothing. A response that is the text of one
        of the item's stored calls (the usual case) is kept once, in the call, and the
        sample refers to it; `samples` reads it back.
        """
        reading: Any = row.get("reading")
        if reading is not None and hasattr(reading, "to_json"):
            reading = reading.to_json()
        shared: list[tuple[str, str]] = []
        if reading is not None:
            reading = _share_options(reading, shared)
        keys = list(row["call_keys"])
        made = {k: p.call.response for k in keys if (p := self._pending.get(k)) is not None}
        details = pack_json(canonical_json(row["details"]))
        packed = None if reading is None else pack_json(canonical_json(reading))
        with self._transaction(shared):
            response: str | bytes = row["response"]
            ref = self._response_ref(response, keys, made)
            if ref is not None:
                response = response_ref(*ref)
            values = {
                **row,
                "run_id": run_id,
                "response": response,
                "details": details,
                "call_keys": pack_keys(keys) or canonical_json(keys),
                "created_at": row.get("created_at") or time.time(),
                "extractor": str(row.get("extractor") or self.extractor_of(run_id)),
                "reading": packed,
                "score": row.get("score"),
            }
            self._db.execute(_INSERT_SAMPLE, [values[c] for c in SAMPLE_COLUMNS])

    def _response_ref(self, text: str, keys: list[str],
                      made: Mapping[str, Mapping[str, Any]]) -> tuple[int, int] | None:
        """(call number in `keys`, generation index) of the first of the item's calls
        with a generation whose text is `text`; `made` holds responses already at hand."""
        if not text:
            return None
        for number, key in enumerate(keys[: 1 << 16]):
            if keys.index(key) != number:
                continue
            response = made.get(key)
            if response is None:
                found = self._db.execute("SELECT response FROM calls WHERE key = ?",
                                         (key_bytes(key),)).fetchone()
                if found is None:
                    continue
                response = json.loads(unpack_json(found[0]))
            for index, generation in enumerate(response.get("generations") or ()):
                if generation.get("text") == text and index < 1 << 16:
                    return number, index
        return None

    def extractor_of(self, run_id: str) -> str:
        """The extractor version whose results are the run's current view."""
        # Read directly rather than through `run`, which also checks the run's liveness.
        row = self._db.execute(
            "SELECT json_extract(info, '$.extractor_version') FROM runs WHERE run_id=?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r}")
        return str(row[0] or "1")

    def extractor_versions(self, run_id: str) -> list[str]:
        """Every extractor version the run has results for, oldest first."""
        rows = self._db.execute(
            "SELECT DISTINCT extractor FROM samples WHERE run_id=?", (run_id,)
        ).fetchall()
        return sorted((str(r[0]) for r in rows), key=_version_key)

    def set_run_info(self, run_id: str, **updates: Any) -> None:
        """Update keys of the run's info (e.g. its current extractor version)."""
        info = self.run(run_id)["info"]
        info.update(updates)
        self._db.execute(
            "UPDATE runs SET info=?, updated_at=? WHERE run_id=?",
            (canonical_json(info), time.time(), run_id),
        )

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All writes inside the block commit together, or not at all (nested blocks
        join the outer one). The calls not yet written are written first."""
        return self._transaction(())

    @contextlib.contextmanager
    def _transaction(self, texts: Sequence[tuple[str, str]]) -> Iterator[None]:
        """`transaction`, also writing the shared `texts` (hash, text) the block's rows
        refer to."""
        if self._db.in_transaction:
            if texts:
                self._write_texts(texts)
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        written = list(self._pending)
        try:
            pending = [self._pending[key] for key in written]
            self._write_texts([*(t for p in pending for t in p.texts), *texts])
            if pending:
                self._write_calls([p.row for p in pending])
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._texts_this_transaction.clear()
            raise
        self._db.execute("COMMIT")
        for key in written:
            del self._pending[key]
        self._texts_known.update(self._texts_this_transaction)
        self._texts_this_transaction.clear()
        if len(self._texts_known) > 100_000:  # a bound on memory, not on correctness
            self._texts_known.clear()

    def done_items(self, run_id: str, extractor: str | None = None) -> set[str]:
        """IDs of items finished without error (errors are retried on resume)."""
        version = extractor or self.extractor_of(run_id)
        rows = self._db.execute(
            "SELECT item_id FROM samples WHERE run_id=? AND extractor=? AND status != 'error'",
            (run_id, version),
        )
        return {r[0] for r in rows}

    def resolve_run_id(self, prefix: str) -> str:
        """The full run ID for an ID or unique prefix; 'last' means the newest run."""
        if prefix == "last":
            row = self._db.execute(
                "SELECT run_id FROM runs ORDER BY updated_at DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise RunNotFoundError("there are no runs in the store yet")
            return str(row[0])
        rows = self._db.execute(
            "SELECT run_id FROM runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\'",
            (prefix, prefix.replace("_", "\\_").replace("%", "\\%") + "%"),
        ).fetchall()
        ids = sorted({r[0] for r in rows})
        if prefix in ids:
            return prefix
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise RunNotFoundError(f"no run matches {prefix!r} (see `medq runs`)")
        raise RunNotFoundError(f"{prefix!r} matches several runs: {', '.join(ids[:5])}")

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's row as a dict, with spec and info decoded."""
        row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r}")
        out = dict(row)
        out["spec"] = json.loads(out["spec"])
        out["info"] = json.loads(out["info"])
        out["status"] = self._live_status(run_id, out["status"])
        return out

    def runs(self) -> list[dict[str, Any]]:
        """All runs, newest first, with their sample counts (current extractor's view)."""
        rows = self._db.execute(
            "SELECT r.*, (SELECT COUNT(*) FROM samples s WHERE s.run_id=r.run_id AND "
            "s.extractor=COALESCE(json_extract(r.info, '$.extractor_version'), '1')) AS n_done "
            "FROM runs r ORDER BY r.updated_at DESC"
        )
        out = [dict(r) for r in rows]
        for r in out:
            r["status"] = self._live_status(r["run_id"], r["status"])
        return out

    # --- liveness (see medq.liveness) ---------------------------------------------------

    def _live_status(self, run_id: str, status: str) -> str:
        """``stale`` for a run recorded as running whose process is gone, else `status`."""
        from medq.liveness import is_alive

        if status != "running" or is_alive(self, run_id, self.run_owner(run_id)):
            return status
        # Re-read: the owner may have finished between the first read and the check.
        row = self._db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return "stale" if row is None or row[0] == "running" else str(row[0])

    def claim_run(self, run_id: str, pid: int, host: str) -> None:
        """Record the process now running `run_id` (clearing an earlier failure)."""
        now = time.time()
        self._db.execute("INSERT OR REPLACE INTO run_liveness VALUES (?,?,?,?,?,NULL)",
                         (run_id, pid, host, now, now))

    def heartbeat(self, run_id: str) -> None:
        """Note that the run's process is still alive (writing the calls not yet written)."""
        with self.transaction():
            self._db.execute("UPDATE run_liveness SET heartbeat=? WHERE run_id=?",
                             (time.time(), run_id))

    def run_owner(self, run_id: str) -> dict[str, Any] | None:
        """The pid, host, start and last heartbeat of the run's latest process, and why the
        run failed (``failure``), or None for a run never claimed (older stores)."""
        row = self._db.execute("SELECT * FROM run_liveness WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else dict(row)

    def record_failure(self, run_id: str, reason: str) -> None:
        """Keep the one-line reason a run failed, for `medq show` and reports."""
        self._db.execute("UPDATE run_liveness SET failure=? WHERE run_id=?", (reason, run_id))

    def error_counts(self, run_id: str) -> tuple[int, int, str | None]:
        """(items stored, items in error, the most common error reason) of a run."""
        version = self.extractor_of(run_id)
        stored, errors = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(status='error'), 0) FROM samples "
            "WHERE run_id=? AND extractor=?",
            (run_id, version),
        ).fetchone()
        common = self._db.execute(
            "SELECT reason FROM samples WHERE run_id=? AND extractor=? AND status='error' "
            "GROUP BY reason ORDER BY COUNT(*) DESC, MIN(position) LIMIT 1",
            (run_id, version),
        ).fetchone()
        return int(stored), int(errors), None if common is None else common[0]

    def save_judge_meta(self, judges: Sequence[str], prompt_hash: str,
                        result: Mapping[str, Any]) -> None:
        """Keep a meta-evaluation of the jury `judges` (their models, in order) under the
        judge prompt `prompt_hash`; a later one replaces it."""
        self._db.execute("INSERT OR REPLACE INTO judge_meta VALUES (?, ?, ?, ?)",
                         (canonical_json(list(judges)), prompt_hash, canonical_json(result),
                          time.time()))

    def judge_meta(self, judges: Sequence[str], prompt_hash: str) -> dict[str, Any] | None:
        """The meta-evaluation kept for these judges under that prompt, or None."""
        row = self._db.execute("SELECT result FROM judge_meta WHERE judges=? AND prompt_hash=?",
                               (canonical_json(list(judges)), prompt_hash)).fetchone()
        return None if row is None else json.loads(row[0])

    def samples(self, run_id: str, extractor: str | None = None) -> Iterator[SampleResult]:
        """The run's per-item results in task order, as read by `extractor` (default: the
        run's current version; earlier versions stay readable)."""
        from medq.results import SampleResult

        version = extractor or self.extractor_of(run_id)
        self.flush()
        rows = [dict(row) for row in self._db.execute(
            "SELECT * FROM samples WHERE run_id=? AND extractor=? ORDER BY position",
            (run_id, version))]
        for out in rows:
            keys = out["call_keys"]
            out["call_keys"] = unpack_keys(keys) if isinstance(keys, bytes) else json.loads(keys)
            out["details"] = json.loads(unpack_json(out["details"]))
            if out.get("reading") is not None:
                out["reading"] = unpack_json(out["reading"])
        responses = self._responses({out["call_keys"][unpack_response_ref(out["response"])[0]]
                                     for out in rows if isinstance(out["response"], bytes)})
        options = self._options_of(rows)
        for out in rows:
            if isinstance(out["response"], bytes):
                number, index = unpack_response_ref(out["response"])
                response = responses.get(out["call_keys"][number])
                if response is None:
                    raise StoreError(f"{self.path}: item {out['item_id']!r} of run {run_id} "
                                     "refers to a response that is not in the store (run "
                                     "`medq doctor`)")
                out["response"] = response["generations"][index]["text"]
            reading = out.get("reading")
            if reading and '"$text"' in reading:
                out["reading"] = _expand_options(json.loads(reading), options)
            yield SampleResult.from_row(out)

    def _responses(self, keys: set[str]) -> dict[str, dict[str, Any]]:
        """The stored responses of calls by key, 500 at a time."""
        wanted = [key_bytes(k) for k in keys]
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, response in self._db.execute(
                    f"SELECT key, response FROM calls WHERE key IN ({marks})", chunk):
                out[key_text(key)] = json.loads(unpack_json(response))
        return out

    def counts(self, run_id: str, extractor: str | None = None) -> Counts:
        """`medq.results.count` of the run's results (as `samples` would give them), from
        the four columns the rule reads: no texts, details or readings decoded."""
        from medq.results import count

        version = extractor or self.extractor_of(run_id)
        rows = self._db.execute(
            "SELECT status, correct, truncated, score FROM samples WHERE run_id=? AND "
            "extractor=?", (run_id, version))
        return count({"status": status, "correct": correct, "truncated": truncated,
                      "score": score} for status, correct, truncated, score in rows)

    def _options_of(self, rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        """Every option list the rows' readings refer to, by hash: read in one pass (500
        hashes a query), parsed once, and kept for the next run that reads the same items."""
        wanted = {h for row in rows if row["reading"] and '"$text"' in row["reading"]
                  for h in _TEXT_REF.findall(row["reading"])}
        missing = wanted - self._options.keys()
        if len(self._options) + len(missing) > _OPTIONS_KEPT:
            self._options.clear()  # a bound on what a long-lived Store holds
            missing = wanted
        from medq.types import _freeze_json

        texts: dict[str, str] = {}
        self._fetch_texts(missing, texts)
        for digest, text in texts.items():
            self._options[digest] = _freeze_json(json.loads(text))
        return self._options


def _share_options(reading: dict[str, Any], shared: list[tuple[str, str]]) -> dict[str, Any]:
    """The reading with each leaf's option list as a shared-text reference (an item's
    options are the same in every run that reads it)."""
    out = dict(reading)
    args = out.get("args")
    if isinstance(args, dict) and isinstance(args.get("options"), list):
        text = canonical_json(args["options"])
        digest = hashlib.sha256(text.encode()).hexdigest()
        shared.append((digest, text))
        out["args"] = {**args, "options": {"$text": digest}}
    if out.get("parts"):
        out["parts"] = [_share_options(p, shared) for p in out["parts"]]
    return out


def _expand_options(reading: dict[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of `_share_options`, from frozen option lists by hash (`Store._options_of`),
    so the readings of one item in every run share one read-only list."""
    args = reading.get("args")
    if isinstance(args, dict) and isinstance(args.get("options"), dict):
        ref = args["options"]["$text"]
        if ref not in options:
            raise StoreError(f"a stored reading refers to options {ref[:12]} that are not in "
                             "the store (run `medq doctor`)")
        reading["args"] = {**args, "options": options[ref]}
    if reading.get("parts"):
        reading["parts"] = [_expand_options(p, options) for p in reading["parts"]]
    return reading


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (10**9, version)
