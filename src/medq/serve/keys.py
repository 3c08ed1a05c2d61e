"""API keys: created, listed and revoked by the CLI, checked by the server on every request.

A key looks like ``mq-<prefix>.<secret>``; it is shown once, when created. The store keeps
only its prefix (to find the row and to name the key in the audit log) and the SHA-256 of
the whole key, compared in constant time. Keys carry 256 random bits, so a plain hash
suffices: there is nothing for a slow hash to protect. Scopes say which pipelines a key
may use: ``pipeline:NAME`` or ``pipeline:*``.

The store is ``$MEDQ_HOME/serve/keys.sqlite``; the server reads it on every request, so a
revocation takes effect on the next request, without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medq.store import medq_home

__all__ = ["KeyRecord", "KeyStore", "KeyStoreError", "describe_limits", "parse_scopes",
           "serve_home"]

_SCOPE = re.compile(r"^pipeline:(\*|[A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$")
_TOKEN = re.compile(r"^mq-([a-z2-7]{12})\.[A-Za-z0-9_-]{43}$")
LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "concurrent")
# Compared against when a prefix is unknown, so a miss costs what a hit does.
_DUMMY_HASH = hashlib.sha256(b"medq: no such key").hexdigest()


class KeyStoreError(ValueError):
    """A bad key operation: an unknown key, a bad scope, a name already in use."""


def serve_home() -> Path:
    """Where the server keeps its keys and audit log: ``$MEDQ_HOME/serve``."""
    return medq_home() / "serve"


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """Scopes from ``'pipeline:a,pipeline:b'`` (commas or spaces) or a list.

    Raises:
        KeyStoreError: a scope that is not ``pipeline:NAME`` or ``pipeline:*``.
    """
    parts = re.split(r"[\s,]+", text) if isinstance(text, str) else list(text)
    scopes = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if not scopes:
        raise KeyStoreError("--scopes needs at least one scope: pipeline:NAME or pipeline:*")
    for scope in scopes:
        if not _SCOPE.match(scope):
            raise KeyStoreError(f"scope {scope!r} must be pipeline:NAME or pipeline:*")
    return scopes


@dataclass(frozen=True)
class KeyRecord:
    """A stored key (never its secret).

    Attributes:
        prefix: ``mq-<prefix>``, the public part that names the key.
        name: who or what the key is for.
        scopes: ``pipeline:NAME`` / ``pipeline:*`` entries.
        limits: the key's own limits (keys of `medq.serve.config.KeyLimits`; missing ones
            come from the server config; a value of None means unlimited).
        created_at, revoked_at: Unix times; revoked_at is None while the key is active.
    """

    prefix: str
    name: str
    scopes: tuple[str, ...]
    limits: Mapping[str, int | None] = field(default_factory=dict)
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, pipeline: str) -> bool:
        """Whether the key's scopes cover `pipeline`."""
        return "pipeline:*" in self.scopes or f"pipeline:{pipeline}" in self.scopes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    """The key table; see the module docstring.

    Example:
        >>> keys = KeyStore()
        >>> token, record = keys.create("ward-7", ["pipeline:*"])
        >>> keys.authenticate(token).name
        'ward-7'
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else serve_home() / "keys.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS keys (prefix TEXT PRIMARY KEY, hash TEXT NOT NULL, "
            "name TEXT NOT NULL, scopes TEXT NOT NULL, limits TEXT NOT NULL, "
            "created_at REAL NOT NULL, revoked_at REAL)"
        )
        if new:
            os.chmod(self.path, 0o600)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _record(row: sqlite3.Row) -> KeyRecord:
        return KeyRecord(row["prefix"], row["name"], tuple(json.loads(row["scopes"])),
                         json.loads(row["limits"]), row["created_at"], row["revoked_at"])

    def create(self, name: str, scopes: str | Iterable[str],
               limits: Mapping[str, int | None] | None = None) -> tuple[str, KeyRecord]:
        """A new key: ``(the key itself, shown once; its record)``.

        Raises:
            KeyStoreError: an empty name, a name an active key has, a bad scope or limit.
        """
        name = name.strip()
        if not name:
            raise KeyStoreError("--name must not be empty")
        checked = parse_scopes(scopes)
        own = dict(limits or {})
        for key, value in own.items():
            if key not in LIMIT_FIELDS:
                raise KeyStoreError(f"unknown limit {key!r}; limits: {', '.join(LIMIT_FIELDS)}")
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise KeyStoreError(f"limit {key} must be an integer >= 1, not {value!r}")
        if self._db.execute("SELECT 1 FROM keys WHERE name=? AND revoked_at IS NULL",
                            (name,)).fetchone():
            raise KeyStoreError(f"an active key is already named {name!r} (revoke it first)")
        while True:
            prefix = "mq-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567")
                                     for _ in range(12))
            token = f"{prefix}.{secrets.token_urlsafe(32)}"
            try:
                self._db.execute(
                    "INSERT INTO keys VALUES (?,?,?,?,?,?,NULL)",
                    (prefix, _hash(token), name, json.dumps(checked), json.dumps(own),
                     time.time()),
                )
                break
            except sqlite3.IntegrityError:  # a prefix collision (1 in 2^60): draw again
                continue
        return token, self.get(prefix)

    def get(self, prefix: str) -> KeyRecord:
        """The key with this prefix."""
        row = self._db.execute("SELECT * FROM keys WHERE prefix=?", (prefix,)).fetchone()
        if row is None:
            raise KeyStoreError(f"no key {prefix!r} (see `medq serve keys list`)")
        return self._record(row)

    def list(self) -> list[KeyRecord]:
        """Every key, newest first, revoked ones included."""
        rows = self._db.execute("SELECT * FROM keys ORDER BY created_at DESC")
        return [self._record(r) for r in rows]

    def revoke(self, which: str) -> KeyRecord:
        """Revoke the active key with this prefix or name.

        Raises:
            KeyStoreError: no active key matches, or a name matches several.
        """
        rows = self._db.execute(
            "SELECT * FROM keys WHERE (prefix=? OR name=?) AND revoked_at IS NULL",
            (which, which)).fetchall()
        if not rows:
            raise KeyStoreError(f"no active key has prefix or name {which!r}")
        if len(rows) > 1:
            raise KeyStoreError(f"{which!r} names several keys; revoke by prefix")
        prefix = rows[0]["prefix"]
        self._db.execute("UPDATE keys SET revoked_at=? WHERE prefix=?", (time.time(), prefix))
        return self.get(prefix)

    def authenticate(self, token: str) -> KeyRecord | None:
        """The active key `token` is, or None (malformed, unknown, wrong or revoked)."""
        match = _TOKEN.match(token)
        row = None
        if match is not None:
            row = self._db.execute("SELECT * FROM keys WHERE prefix=?",
                                   (f"mq-{match.group(1)}",)).fetchone()
        stored = row["hash"] if row is not None else _DUMMY_HASH
        if not hmac.compare_digest(stored, _hash(token)) or row is None:
            return None
        record = self._record(row)
        return record if record.active else None


def describe_limits(limits: Mapping[str, Any]) -> str:
    """``rpm=2 tpm=server concurrent=unlimited``-style text for listings."""
    parts = []
    for key, short in zip(LIMIT_FIELDS, ("rpm", "tpm", "concurrent"), strict=True):
        value = limits.get(key, "server")
        parts.append(f"{short}={'unlimited' if value is None else value}")
    return " ".join(parts)
