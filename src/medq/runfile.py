"""Run files: one TOML (or YAML) file that fixes task, model, strategy and seed of a run.

A run file holds the fields of `EvalSpec` plus the settings of `RunSettings`
(``concurrency``: a number or ``"auto"``, ``max_concurrency``, ``timeout``, ``max_retries``,
``max_error_rate``, ``max_response_mb``, ``n_per_request``),
which change how the run goes but not its ID; the strategy is either a
spec string or a table whose ``name`` is the strategy and whose other keys are its
parameters (a nested table is a nested strategy). Relative ``data`` paths are relative to
the file. Unknown keys are errors, so a typo never silently changes a run.

Example (``run.toml``)::

    task = "medqa"
    model = "openai/gpt-4o-mini"
    seed = 1
    data = "data/medqa_usmle"
    timeout = 60        # seconds per request
    max_retries = 2

    [strategy]
    name = "self_consistency"
    n = 5
    temperature = 0.7
    base = { name = "cot_few_shot", k = 3 }

A judged task (free text graded by an LLM judge) takes a ``[judge]`` table: ``model``
(one judge) or ``models`` (a jury: roles ``judge``, ``judge_2`` …), and optionally
``base_url``, ``api_key_env`` (default: the model's) and ``max_ungraded`` (default 0.01)::

    [judge]
    models = ["openai/gpt-4.1", "openai/o4-mini"]
    max_ungraded = 0.02
    [roles.patient]          # models for other roles (optional)
    model = "openai/llama-3.1-8b"
    base_url = "http://localhost:8001/v1"

``medq eval --config run.toml`` runs it; a flag given on the command line overrides the
file's value (the stored spec, and so the run ID, always reflect what actually ran).
YAML files (``.yaml`` / ``.yml``) work when PyYAML is installed; medq does not require it.
``probes = ["permute:mode=cyclic", "nota"]`` evaluates the task under robustness probes
(`medq.probes`), applied in that order.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from medq.run_settings import DEFAULT_CONCURRENCY, RunSettings, SettingError
from medq.runner import EvalSpec
from medq.strategies._shared.spec import StrategySpec, StrategySpecError

__all__ = ["DEFAULT_CONCURRENCY", "RunFile", "RunFileError", "load_runfile", "read_runfile"]

_SPEC_FIELDS = {f.name: f for f in fields(EvalSpec)}
_SETTINGS = {f.name for f in fields(RunSettings)}
_ROLE_KEYS = frozenset({"model", "base_url", "api_key_env"})
_TYPES: dict[str, tuple[type, ...]] = {
    "task": (str,), "model": (str,), "data": (str,), "sample": (bool,), "limit": (int,),
    "seed": (int,), "base_url": (str,), "api_key_env": (str,), "concurrency": (int, str),
    "max_concurrency": (int,),
    "timeout": (float, int), "max_retries": (int,), "max_error_rate": (float, int),
    "max_response_mb": (float, int), "n_per_request": (str,),
}


class RunFileError(ValueError):
    """A run file that cannot be read, or holds unknown keys or values of the wrong type."""


_JUDGE_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "models": (list,), "base_url": (str,), "api_key_env": (str,),
    "max_ungraded": (float, int),
}


@dataclass(frozen=True)
class RunFile:
    """A loaded run file: the run's spec, how to run it, and its judged runs' threshold of
    ungraded items (None: the default)."""

    spec: EvalSpec
    settings: RunSettings = RunSettings()
    max_ungraded: float | None = None

    @property
    def concurrency(self) -> int | str:
        """Model calls in flight at once, or ``"auto"``."""
        return self.settings.concurrency


def read_runfile(path: Path | str) -> dict[str, Any]:
    """The run file's values, checked: the strategy as its canonical spec string, ``data``
    resolved against the file's folder. Only keys present in the file are returned."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"run file {path}: {exc.strerror or exc}") from None
    raw = _parse(path, text)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "judge":
            values[key] = _judge_table(path, value)
            continue
        if key == "roles":
            values[key] = _roles(path, value)
            continue
        if key == "strategy":
            try:
                values[key] = str(StrategySpec.coerce(value))
            except StrategySpecError as exc:
                raise RunFileError(f"run file {path}: {exc}") from None
            continue
        if key == "probes":
            values[key] = _probes(path, value)
            continue
        if key not in _TYPES:
            known = ", ".join(sorted([*_TYPES, "judge", "probes", "roles", "strategy"]))
            raise RunFileError(f"run file {path}: unknown key {key!r}; known keys: {known}")
        ok = isinstance(value, _TYPES[key]) and not (
            isinstance(value, bool) and bool not in _TYPES[key]
        )
        if not ok:
            kind = ('an int or "auto"' if key == "concurrency" else
                    "number" if float in _TYPES[key] else _TYPES[key][0].__name__)
            raise RunFileError(
                f"run file {path}: {key!r} must be {kind}, not {type(value).__name__}"
            )
        values[key] = value
    if "data" in values:
        values["data"] = str((path.parent / values["data"]).resolve())
    return values


def _probes(path: Path, value: Any) -> tuple[str, ...]:
    """``probes``: a list of probe specs, each a string or a table ``{name = ..., k = v}``,
    checked and normalised (see `medq.probes`)."""
    from medq.probes.base import normalize_probe

    if isinstance(value, str | Mapping) or not isinstance(value, list):
        raise RunFileError(f"run file {path}: 'probes' must be a list of probe specs, e.g. "
                           f'["permute:mode=cyclic", "nota"]')
    try:
        return tuple(str(normalize_probe(StrategySpec.coerce(p))) for p in value)
    except StrategySpecError as exc:
        raise RunFileError(f"run file {path}: probes: {exc}") from None


def _judge_table(path: Path, table: Any) -> dict[str, Any]:
    """The ``[judge]`` table, checked: ``models`` (a list, from ``model`` or ``models``),
    ``base_url``, ``api_key_env``, ``max_ungraded``."""
    if not isinstance(table, Mapping):
        raise RunFileError(f"run file {path}: 'judge' must be a table")
    for key, value in table.items():
        if key not in _JUDGE_TYPES:
            known = ", ".join(sorted(_JUDGE_TYPES))
            raise RunFileError(f"run file {path}: unknown key 'judge.{key}'; known: {known}")
        if not isinstance(value, _JUDGE_TYPES[key]) or isinstance(value, bool):
            raise RunFileError(f"run file {path}: 'judge.{key}' must be "
                               f"{_JUDGE_TYPES[key][0].__name__}, not {type(value).__name__}")
    if ("model" in table) == ("models" in table):
        raise RunFileError(f"run file {path}: the judge table needs 'model' or 'models'")
    models = [table["model"]] if "model" in table else table["models"]
    if not models or not all(isinstance(m, str) and m for m in models):
        raise RunFileError(f"run file {path}: 'judge.models' must be a non-empty list of "
                           f"model specs")
    out: dict[str, Any] = {"models": list(models)}
    out.update({k: table[k] for k in ("base_url", "api_key_env") if k in table})
    if "max_ungraded" in table:
        rate = float(table["max_ungraded"])
        if not 0 <= rate <= 1:
            raise RunFileError(f"run file {path}: 'judge.max_ungraded' must be in [0, 1]")
        out["max_ungraded"] = rate
    return out

def _roles(path: Path, value: Any) -> dict[str, dict[str, str]]:
    """``[roles.patient] model = "...", base_url = "..."`` (or ``patient = "openai/x"``)."""
    if not isinstance(value, Mapping):
        raise RunFileError(f"run file {path}: 'roles' must be a table of role = model")
    roles = {}
    for name, ref in value.items():
        ref = {"model": ref} if isinstance(ref, str) else ref
        if not isinstance(ref, Mapping) or not isinstance(ref.get("model"), str):
            raise RunFileError(f"run file {path}: role {name!r} needs a 'model' string")
        unknown = set(ref) - _ROLE_KEYS
        if unknown or not all(isinstance(v, str) for v in ref.values()):
            raise RunFileError(f"run file {path}: role {name!r} takes string values for "
                               f"{', '.join(sorted(_ROLE_KEYS))} only")
        roles[str(name)] = dict(ref)
    return roles


def _parse(path: Path, text: str) -> Mapping[str, Any]:
    if path.suffix in {".yaml", ".yml"}:
        try:
            import yaml
        except ImportError:
            raise RunFileError(f"run file {path}: YAML needs PyYAML; use TOML") from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RunFileError(f"run file {path}: not valid YAML ({exc})") from None
    else:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RunFileError(f"run file {path}: not valid TOML ({exc})") from None
    if not isinstance(document, Mapping):
        raise RunFileError(f"run file {path}: expected a table of keys")
    return document


def load_runfile(path: Path | str, **overrides: Any) -> RunFile:
    """The run described by the file at `path`; `overrides` that are not None win.

    Raises:
        RunFileError: unreadable, unknown keys, wrong types, or a value out of range
            (``limit = 0``), naming the file and the key.

    Example:
        >>> run = load_runfile("run.toml", limit=10)
        >>> evaluate(run.spec, **asdict(run.settings))
    """
    values = read_runfile(path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("task", "model"):
        if not values.get(key):
            raise RunFileError(f"run file {path}: {key!r} is required")
    judge = values.pop("judge", None)
    unknown = set(values) - set(_SPEC_FIELDS) - _SETTINGS
    if unknown:
        raise RunFileError(f"unknown run setting(s) {sorted(unknown)}")
    settings = {k: values.pop(k) for k in _SETTINGS & set(values)}
    if "strategy" in values:
        values["strategy"] = str(StrategySpec.coerce(values["strategy"]))
    max_ungraded = None
    if judge is not None:
        from medq.judge.jury import judge_roles

        values["roles"] = {**(values.get("roles") or {}),
                           **judge_roles(judge["models"], base_url=judge.get("base_url"),
                                         api_key_env=judge.get("api_key_env"))}
        max_ungraded = judge.get("max_ungraded")
    try:
        return RunFile(EvalSpec(**values), RunSettings(**settings), max_ungraded)
    except SettingError as exc:
        raise RunFileError(f"run file {path}: {exc}") from None
