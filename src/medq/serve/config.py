"""The server config file (TOML): the pipelines served, the default per-key limits, the
server's own settings.

A pipeline is what `medq eval` measured, made servable: a backend model and endpoint, a
strategy spec (any corpus is named inside it), a seed and an abstention rule, plus whether
request and answer text may be kept in the audit log. Unknown keys are errors, so a typo
never silently changes what is served. A minimal file::

    [[pipeline]]
    name = "medrag-sc5"
    model = "openai/my-model"
    base_url = "http://127.0.0.1:8001/v1"
    strategy = "self_consistency(n=5,base=medrag(corpus=textbooks))"

Every key, with its default:

    [server]
    host = "127.0.0.1"          # loopback only; TLS and SSO belong to a reverse proxy
    port = 8000
    max_body_bytes = 65536      # larger request bodies get a 413
    [limits]                    # for keys created without their own
    requests_per_minute = 60
    tokens_per_minute = 200000
    concurrent = 4              # requests of one key in flight at once
    [[pipeline]]
    name, model, strategy       # required
    base_url, api_key_env       # the backend's (openai/...) endpoint and key variable
    seed = 0
    abstain_below = 0.7         # abstain when the confidence is under this (or missing)
    calibration = {...}         # written by `medq serve calibrate` (provenance only)
    store_content = false       # keep question and answer text in the audit log
    calls = "store"             # "store": cache calls in medq's store; "memory": do not
    upstream_attempts = 2       # tries per upstream call (the one retry policy)
    upstream_timeout = 120.0    # seconds per upstream attempt
    concurrency = 64            # upstream calls of this pipeline in flight at once
    n_per_request = "auto"      # a request's samples in one upstream call (as medq eval)
    description = ""
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medq.strategies._shared.spec import StrategySpec, StrategySpecError

__all__ = ["ConfigError", "KeyLimits", "PipelineConfig", "ServeConfig", "ServerSettings",
           "load_config", "pipeline_line"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class ConfigError(ValueError):
    """A server config that cannot be read; one line naming file, line and field."""


@dataclass(frozen=True)
class KeyLimits:
    """Per-key limits; None means unlimited.

    Attributes:
        requests_per_minute: requests admitted in any 60-second window.
        tokens_per_minute: tokens of the key's answers (their ``usage``) in any 60-second
            window; a request is admitted while the key's last minute is under it.
        concurrent: requests of the key in flight at once.
    """

    requests_per_minute: int | None = 60
    tokens_per_minute: int | None = 200_000
    concurrent: int | None = 4

    def merged(self, override: Mapping[str, Any]) -> KeyLimits:
        """These limits with the keys of `override` (a key's own settings) replacing them."""
        values = {k: override[k] for k in ("requests_per_minute", "tokens_per_minute",
                                           "concurrent") if k in override}
        return KeyLimits(**{**self.__dict__, **values})


@dataclass(frozen=True)
class ServerSettings:
    """The server's own settings (see the module docstring)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 65536


@dataclass(frozen=True)
class PipelineConfig:
    """One served pipeline, as the config file gives it (see the module docstring)."""

    name: str
    model: str
    strategy: str
    base_url: str | None = None
    api_key_env: str | None = None
    seed: int = 0
    abstain_below: float | None = None
    calibration: Mapping[str, Any] = field(default_factory=dict)
    store_content: bool = False
    calls: str = "store"
    upstream_attempts: int = 2
    upstream_timeout: float = 120.0
    concurrency: int = 64
    n_per_request: str = "auto"
    description: str = ""


@dataclass(frozen=True)
class ServeConfig:
    """A loaded config file."""

    path: Path
    pipelines: tuple[PipelineConfig, ...]
    server: ServerSettings = ServerSettings()
    limits: KeyLimits = KeyLimits()

    def pipeline(self, name: str) -> PipelineConfig:
        """The pipeline called `name`; KeyError naming the known ones otherwise."""
        for p in self.pipelines:
            if p.name == name:
                return p
        raise KeyError(f"no pipeline {name!r} in {self.path} "
                       f"(pipelines: {', '.join(p.name for p in self.pipelines)})")


# key -> (accepted types, what a value must be). A bool is never taken for an int.
_PIPELINE_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a name of letters, digits, '_', '.', ':' or '-'"),
    "model": ((str,), "a model spec such as openai/my-model"),
    "strategy": ((str, dict), "a strategy spec or table"),
    "base_url": ((str,), "a URL"),
    "api_key_env": ((str,), "an environment variable name"),
    "seed": ((int,), "an integer"),
    "abstain_below": ((int, float), "a number in [0, 1]"),
    "calibration": ((dict,), "a table"),
    "store_content": ((bool,), "true or false"),
    "calls": ((str,), "\"store\" or \"memory\""),
    "upstream_attempts": ((int,), "an integer >= 1"),
    "upstream_timeout": ((int, float), "seconds > 0"),
    "concurrency": ((int,), "an integer >= 1"),
    "n_per_request": ((str,), "\"auto\", \"on\" or \"off\""),
    "description": ((str,), "text"),
}
_SERVER_KEYS = {"host": ((str,), "a host"), "port": ((int,), "a port 0..65535"),
                "max_body_bytes": ((int,), "bytes >= 1024")}
_LIMIT_KEYS = {k: ((int,), "an integer >= 1") for k in
               ("requests_per_minute", "tokens_per_minute", "concurrent")}


def pipeline_line(text: str, index: int, key: str | None = None) -> int:
    """The line (1-based) of pipeline `index`'s `key` in the config text, or of its
    ``[[pipeline]]`` header when the key is not written there."""
    lines = text.splitlines()
    headers = [n for n, line in enumerate(lines) if re.match(r"\s*\[\[\s*pipeline\s*\]\]", line)]
    if index >= len(headers):
        return 1
    start = headers[index]
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    if key is not None:
        for n in range(start + 1, end):
            if re.match(rf"\s*{re.escape(key)}\s*=", lines[n]) or re.match(
                    rf"\s*\[\s*pipeline\.{re.escape(key)}\s*\]", lines[n]):
                return n + 1
    return start + 1


def _table_line(text: str, table: str, key: str) -> int:
    lines = text.splitlines()
    inside = False
    for n, line in enumerate(lines):
        if re.match(r"\s*\[", line):
            inside = re.match(rf"\s*\[\s*{table}\s*\]", line) is not None
            if inside and not key:
                return n + 1
        elif inside and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return n + 1
    return 1


class _FieldError(ValueError):
    """A bad value of one key (the key locates the line)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


def _check(where: str, key: str, value: Any,
           rules: Mapping[str, tuple[tuple[type, ...], str]]) -> None:
    if key not in rules:
        raise _FieldError(key, f"{where}: unknown key {key!r}; known keys: {', '.join(rules)}")
    types, meaning = rules[key]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        raise _FieldError(key, f"{where}: {key} must be {meaning}, not {value!r}")


def _pipeline(raw: Mapping[str, Any]) -> PipelineConfig:
    for key, value in raw.items():
        _check("pipeline", key, value, _PIPELINE_KEYS)
    for key in ("name", "model", "strategy"):
        if key not in raw:
            raise _FieldError(None, f"pipeline: {key} is required")
    values = dict(raw)
    if not _NAME.match(values["name"]):
        raise _FieldError("name", f"pipeline: name must be {_PIPELINE_KEYS['name'][1]}, "
                         f"not {values['name']!r}")
    try:
        values["strategy"] = str(StrategySpec.coerce(values["strategy"]))
    except StrategySpecError as exc:
        raise _FieldError("strategy", f"pipeline {values['name']!r}: strategy: {exc}") from None
    threshold = values.get("abstain_below")
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise _FieldError("abstain_below", f"pipeline {values['name']!r}: abstain_below "
                          f"must be in [0, 1], not {threshold}")
    if threshold is not None:
        values["abstain_below"] = float(threshold)
    if values.get("calls", "store") not in ("store", "memory"):
        raise _FieldError("calls", f"pipeline {values['name']!r}: calls must be \"store\" or "
                         f"\"memory\", not {values['calls']!r}")
    if values.get("n_per_request", "auto") not in ("auto", "on", "off"):
        raise _FieldError("n_per_request", f"pipeline {values['name']!r}: n_per_request must "
                          f"be \"auto\", \"on\" or \"off\", not {values['n_per_request']!r}")
    for key in ("upstream_attempts", "concurrency"):
        if key in values and values[key] < 1:
            raise _FieldError(key, f"pipeline {values['name']!r}: {key} must be >= 1")
    if "upstream_timeout" in values:
        if values["upstream_timeout"] <= 0:
            raise _FieldError("upstream_timeout",
                              f"pipeline {values['name']!r}: upstream_timeout must be > 0")
        values["upstream_timeout"] = float(values["upstream_timeout"])
    return PipelineConfig(**values)


def load_config(path: Path | str) -> ServeConfig:
    """Read and check a server config file.

    Raises:
        ConfigError: one line, ``FILE:LINE: what is wrong``.

    Example:
        >>> config = load_config("serve.toml")
        >>> [p.name for p in config.pipelines]
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for key in document:
        if key not in ("pipeline", "server", "limits"):
            raise ConfigError(f"{path}:1: unknown table {key!r}; known: pipeline, server, "
                              "limits")
    server, limits = ServerSettings(), KeyLimits()
    for table, rules in (("server", _SERVER_KEYS), ("limits", _LIMIT_KEYS)):
        raw = document.get(table, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}:{_table_line(text, table, '')}: {table} must be a table")
        for key, value in raw.items():
            try:
                _check(table, key, value, rules)
                if table == "server" and key == "port" and not 0 <= value <= 65535 or (
                        table == "server" and key == "max_body_bytes" and value < 1024) or (
                        table == "limits" and value < 1):
                    raise _FieldError(key, f"{table}: {key} must be {rules[key][1]}, "
                                           f"not {value!r}")
            except _FieldError as exc:
                raise ConfigError(f"{path}:{_table_line(text, table, key)}: {exc}") from None
        if table == "server":
            server = ServerSettings(**raw)
        else:
            limits = limits.merged(raw)
    raw_pipelines = document.get("pipeline")
    if not isinstance(raw_pipelines, list) or not raw_pipelines:
        raise ConfigError(f"{path}:1: no [[pipeline]] tables; a config serves at least one")
    pipelines: list[PipelineConfig] = []
    for index, raw in enumerate(raw_pipelines):
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}:{pipeline_line(text, index)}: pipeline must be a table")
        try:
            pipeline = _pipeline(raw)
        except _FieldError as exc:
            raise ConfigError(f"{path}:{pipeline_line(text, index, exc.key)}: {exc}") from None
        if any(p.name == pipeline.name for p in pipelines):
            raise ConfigError(f"{path}:{pipeline_line(text, index, 'name')}: pipeline "
                              f"{pipeline.name!r} is defined twice")
        pipelines.append(pipeline)
    return ServeConfig(path, tuple(pipelines), server, limits)

