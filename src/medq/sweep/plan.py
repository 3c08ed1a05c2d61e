"""Sweep plans: a TOML grid expanded into shards, one `EvalSpec` (one run) per shard.

A plan file names lists that expand as a product (``models`` × ``tasks`` × ``strategies``
× ``seeds``, and ``base_url`` when it is a list) and scalars that apply to every shard::

    tasks = ["medqa", "medmcqa"]
    models = ["openai/my-model"]
    strategies = ["direct", "cot"]
    seeds = [0]
    data = "MIRAGE/benchmark.json"
    base_url = "http://127.0.0.1:8000/v1"
    limit = 200
    concurrency = 32                     # each endpoint's budget, across all shards
    probes = ["permute:mode=cyclic"]     # optional: one probe list for every shard
    n_per_request = "auto"               # optional: as `medq eval --n-per-request`

    [budgets]                            # per-endpoint budgets that differ from it
    "http://127.0.0.1:8000/v1" = 64

``concurrency = "auto"`` gives every shard an adaptive window (`medq.concurrency`: it
halves on 429s and spent rate-limit budgets) whose ceiling is its endpoint's budget, then
``max_concurrency`` (default 64) or the endpoint's entry in ``[budgets]``; the budget stays
a hard ceiling across all shards.

Each shard is exactly the spec a plain ``medq eval`` with those settings would run, so
its ID is that run's ID (`medq.runner.run_id_for`) and ``medq runs`` lists the same runs.
A sweep keeps its files in a folder beside the plan (``grid.toml`` -> ``grid.sweep/``):
``plan.json``, one store per shard under ``shards/`` and one state file per shard under
``state/``.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from medq._atomic import atomic_write_text
from medq.concurrency import AUTO, DEFAULT_MAX_CONCURRENCY

N_PER_REQUEST = ("auto", "on", "off")

if TYPE_CHECKING:
    from medq.runner import EvalSpec

__all__ = ["PlanError", "Shard", "SweepPlan", "load_plan", "plan_sweep", "read_plan"]

DEFAULT_BUDGET = 32
# plural key -> the EvalSpec field it fills
_LISTS = {"models": "model", "tasks": "task", "strategies": "strategy", "seeds": "seed"}
_SCALARS: dict[str, tuple[type, ...]] = {
    "data": (str,), "sample": (bool,), "limit": (int,), "base_url": (str, list),
    "api_key_env": (str,), "concurrency": (int, str), "max_concurrency": (int,),
    "budgets": (dict,), "probes": (list,), "n_per_request": (str,),
}
_ITEM_TYPES = {"models": (str,), "tasks": (str,), "strategies": (str, dict), "seeds": (int,)}


class PlanError(ValueError):
    """A plan file that cannot be read or holds a wrong key or value (one line: file,
    key and what it accepts)."""


@dataclass(frozen=True)
class Shard:
    """One run of the sweep.

    Attributes:
        shard_id: the run ID the shard evaluates under (same as a plain ``medq eval``).
        spec: the run's spec.
        endpoint: the resolved endpoint its calls go to (its budget's key).
        gpus: GPUs the shard asks an executor for (1 for ``hf/`` models).
    """

    shard_id: str
    spec: EvalSpec
    endpoint: str
    gpus: float = 0.0

    def to_json(self) -> dict[str, Any]:
        spec = {k: v for k, v in asdict(self.spec).items() if k != "roles"}
        return {"shard_id": self.shard_id, "spec": spec, "endpoint": self.endpoint,
                "gpus": self.gpus}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Shard:
        from medq.runner import EvalSpec

        return cls(data["shard_id"], EvalSpec(**data["spec"]), data["endpoint"],
                   float(data.get("gpus", 0.0)))


@dataclass(frozen=True)
class SweepPlan:
    """An expanded plan: its shards, each endpoint's budget and the sweep's folder."""

    source: Path
    shards: tuple[Shard, ...]
    budgets: Mapping[str, int]
    adaptive: bool = False  # each shard's window adapts below its endpoint's budget
    n_per_request: str = "auto"  # the samples of one request in one call (medq.coalesce)

    @property
    def folder(self) -> Path:
        return sweep_folder(self.source)

    def store_path(self, shard: Shard) -> Path:
        return self.folder / "shards" / f"{shard.shard_id}.sqlite"

    def state_path(self, shard: Shard) -> Path:
        return self.folder / "state" / f"{shard.shard_id}.json"

    def to_json(self) -> dict[str, Any]:
        return {"format": "medq-sweep", "version": 1, "source": str(self.source),
                "budgets": dict(self.budgets), "adaptive": self.adaptive,
                "n_per_request": self.n_per_request, "shards": [s.to_json() for s in self.shards]}

    def save(self) -> Path:
        """Write ``plan.json`` into the sweep's folder (atomically)."""
        path = self.folder / "plan.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_json(), indent=2) + "\n")
        return path


def sweep_folder(source: Path) -> Path:
    """Where the sweep of plan file `source` keeps its files: ``<stem>.sweep`` beside it."""
    return source.parent / f"{source.stem}.sweep"


def _read_toml(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"plan {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"plan {path}: not valid TOML ({exc})") from None


def _as_list(path: Path, key: str, value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if not isinstance(v, _ITEM_TYPES[key]) or isinstance(v, bool):
            kinds = " or ".join(t.__name__ for t in _ITEM_TYPES[key])
            raise PlanError(f"plan {path}: {key!r} takes a {kinds} or a list of them, "
                            f"not {v!r}")
    if not values:
        raise PlanError(f"plan {path}: {key!r} is an empty list")
    return values


def _probes(path: Path, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """``probes``: one list of probe specs applied, in order, to every shard."""
    from medq.probes.base import normalize_probe
    from medq.strategies._shared.spec import StrategySpec, StrategySpecError

    try:
        return tuple(str(normalize_probe(StrategySpec.coerce(p)))
                     for p in raw.get("probes", ()))
    except StrategySpecError as exc:
        raise PlanError(f"plan {path}: 'probes': {exc}") from None


def _endpoint(spec: EvalSpec) -> str:
    """The endpoint `spec`'s calls go to, without loading a local model's weights."""
    from medq.models import load_model

    backend, _, name = spec.model.partition("/")
    if backend == "hf":
        return name  # hf_local's endpoint for a model without a pinned revision
    return str(load_model(spec.model, base_url=spec.base_url,
                          api_key_env=spec.api_key_env).endpoint)


def load_plan(path: Path | str) -> SweepPlan:
    """Read and expand the plan file at `path` (loads each task's data once for the run
    IDs; makes no model call).

    Raises:
        PlanError: the file is unreadable, has an unknown key, a value of the wrong type,
            no models or tasks, a budget that is not positive or names no shard's endpoint.
    """
    from medq.runner import EvalSpec
    from medq.strategies._shared.spec import StrategySpec, StrategySpecError

    path = Path(path).resolve()
    raw = _read_toml(path)
    for key in raw:
        if key not in _LISTS and key not in _SCALARS:
            known = ", ".join(sorted([*_LISTS, *_SCALARS]))
            raise PlanError(f"plan {path}: unknown key {key!r}; known keys: {known}")
    for key, value in raw.items():
        if key in _SCALARS and (not isinstance(value, _SCALARS[key])
                                or (isinstance(value, bool) and bool not in _SCALARS[key])):
            kinds = " or ".join(t.__name__ for t in _SCALARS[key])
            raise PlanError(f"plan {path}: {key!r} must be {kinds}, not {value!r}")
    for key in ("models", "tasks"):
        if key not in raw:
            raise PlanError(f"plan {path}: {key!r} is required (a list)")
    grid = {key: _as_list(path, key, raw.get(key, default))
            for key, default in (("models", None), ("tasks", None),
                                 ("strategies", "direct"), ("seeds", 0))}
    try:
        grid["strategies"] = [str(StrategySpec.coerce(s)) for s in grid["strategies"]]
    except StrategySpecError as exc:
        raise PlanError(f"plan {path}: 'strategies': {exc}") from None
    urls = raw.get("base_url")
    base_urls = urls if isinstance(urls, list) else [urls]
    if any(not isinstance(u, str) for u in base_urls if u is not None):
        raise PlanError(f"plan {path}: 'base_url' must be a URL or a list of URLs")
    default = raw.get("concurrency", DEFAULT_BUDGET)
    adaptive = default == AUTO
    if isinstance(default, str) and not adaptive:
        raise PlanError(f'plan {path}: \'concurrency\' must be a positive integer or "auto", '
                        f"not {default!r}")
    if "max_concurrency" in raw and not adaptive:
        raise PlanError(f"plan {path}: 'max_concurrency' is the ceiling of concurrency = "
                        f'"auto"; with a fixed concurrency, that number is the budget')
    if adaptive:
        default = raw.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
    given = {str(k).rstrip("/"): v for k, v in (raw.get("budgets") or {}).items()}
    first = "max_concurrency" if adaptive else "concurrency"
    for endpoint, budget in [(first, default), *given.items()]:
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise PlanError(f"plan {path}: the budget of {endpoint!r} must be a positive "
                            f"integer, not {budget!r}")
    data = raw.get("data")
    if data is not None:
        data = str((path.parent / data).resolve())
    scalars = {"data": data, "sample": raw.get("sample", False), "limit": raw.get("limit"),
               "api_key_env": raw.get("api_key_env"), "probes": _probes(path, raw)}
    specs = [EvalSpec(model=m, task=t, strategy=s, seed=seed, base_url=u, **scalars)
             for m, t, s, seed, u in itertools.product(
                 grid["models"], grid["tasks"], grid["strategies"], grid["seeds"], base_urls)]
    n_per_request = raw.get("n_per_request", "auto")
    if n_per_request not in N_PER_REQUEST:
        raise PlanError(f"plan {path}: 'n_per_request' must be one of "
                        f"{', '.join(N_PER_REQUEST)}, not {n_per_request!r}")
    return plan_sweep(path, specs, given, default, adaptive=adaptive,
                      n_per_request=n_per_request)


def plan_sweep(source: Path, specs: Sequence[EvalSpec], budgets: Mapping[str, int],
               default_budget: int = DEFAULT_BUDGET, *, adaptive: bool = False,
               n_per_request: str = "auto") -> SweepPlan:
    """The plan of `specs`: each one's run ID and endpoint, and every endpoint's budget
    (with `adaptive`, each shard's window adapts below its endpoint's budget);
    `n_per_request` is every shard's ``--n-per-request``."""
    from medq.runner import run_id_for
    from medq.tasks.base import load_task

    tasks: dict[tuple[Any, ...], Any] = {}
    shards: list[Shard] = []
    seen: dict[str, int] = {}
    for number, spec in enumerate(specs):
        key = (spec.task, spec.data, spec.sample)
        if key not in tasks:
            tasks[key] = load_task(spec.task, spec.data, sample=spec.sample)
        endpoint = _endpoint(spec)
        run_id = run_id_for(spec, model=SimpleNamespace(endpoint=endpoint), task=tasks[key])
        if run_id in seen:
            raise PlanError(f"plan {source}: combinations {seen[run_id] + 1} and {number + 1} "
                            f"are the same run ({run_id})")
        seen[run_id] = number
        gpus = 1.0 if spec.model.startswith("hf/") else 0.0
        shards.append(Shard(run_id, spec, endpoint, gpus))
    endpoints = {s.endpoint for s in shards}
    unknown = sorted(set(budgets) - endpoints)
    if unknown:
        raise PlanError(f"plan {source}: budgets name {unknown[0]!r}, which no shard calls "
                        f"(endpoints: {', '.join(sorted(endpoints))})")
    resolved = {e: int(budgets.get(e, default_budget)) for e in sorted(endpoints)}
    return SweepPlan(Path(source), tuple(shards), resolved, adaptive, n_per_request)


def read_plan(path: Path | str) -> SweepPlan:
    """The saved plan of plan file `path` (``<stem>.sweep/plan.json``), or of that
    ``plan.json`` itself.

    Raises:
        PlanError: the plan was never planned (``medq sweep plan``) or is damaged.
    """
    path = Path(path).resolve()
    saved = path if path.name == "plan.json" else sweep_folder(path) / "plan.json"
    try:
        data = json.loads(saved.read_text(encoding="utf-8"))
        if data.get("format") != "medq-sweep":
            raise ValueError("not a medq sweep plan")
        return SweepPlan(Path(data["source"]), tuple(Shard.from_json(s) for s in data["shards"]),
                         dict(data["budgets"]), bool(data.get("adaptive", False)),
                         str(data.get("n_per_request", "auto")))
    except FileNotFoundError:
        raise PlanError(f"plan {path}: not planned yet (run `medq sweep plan {path}`)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"plan {saved}: unreadable ({exc}); run `medq sweep plan` again") \
            from None
