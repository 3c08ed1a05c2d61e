"""`medq serve`: run the server, and manage its keys, pipelines, calibration and audit log.

Only running the server needs the ``serve`` extra (FastAPI, uvicorn); keys, pipelines,
calibration and the audit check work with the base install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

serve_app = typer.Typer(
    help="Serve evaluated pipelines behind an OpenAI-compatible API (needs the serve extra).",
    invoke_without_command=True,
    no_args_is_help=False,
)
keys_app = typer.Typer(help="API keys of the server.", no_args_is_help=True)
audit_app = typer.Typer(help="The server's audit log.", no_args_is_help=True)
serve_app.add_typer(keys_app, name="keys")
serve_app.add_typer(audit_app, name="audit")

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Server config (TOML).")]


def _fail(message: str, code: int = 2) -> None:
    from medq._cli_errors import error_line

    error_line(message)
    raise typer.Exit(code)


def _echo(text: str, err: bool = False) -> None:
    """A line for people: untrusted text (key names, paths) escaped (`medq._terminal`)."""
    from medq._terminal import printable

    typer.echo(printable(text), err=err)


def _config(path: Path | None) -> Any:
    from medq.serve.config import ConfigError, load_config

    if path is None:
        _fail("--config is required: the server config file (TOML)")
    assert path is not None  # _fail exits
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(str(exc))


def _pipelines(config: Any) -> list[Any]:
    from medq.serve.pipeline import Pipeline, PipelineError
    from medq.store import Store

    store = Store()
    try:
        return [Pipeline.build(p, store) for p in config.pipelines]
    except PipelineError as exc:
        _fail(f"{config.path}: {exc}")
    return []


@serve_app.callback()
def serve(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: the "
                                             "config's, else 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the config's, else "
                                             "8000).")] = None,
) -> None:
    """Run the server: `medq serve --config serve.toml [--host 127.0.0.1] [--port 8000]`."""
    if ctx.invoked_subcommand is not None:
        return
    from medq._extras import MissingExtraError, require_extra

    try:
        require_extra("fastapi", "medq serve")
        require_extra("uvicorn", "medq serve")
    except MissingExtraError as exc:
        _fail(str(exc))
    loaded = _config(config)
    from medq.serve.app import serve as run
    from medq.serve.pipeline import PipelineError

    settings = loaded.server
    bind = host or settings.host
    if bind not in ("127.0.0.1", "localhost", "::1"):
        _echo(f"warning: binding {bind}: medq serve speaks plain HTTP; put TLS and single "
              "sign-on in a reverse proxy (README, Serving)", err=True)
    try:
        run(loaded, bind, settings.port if port is None else port)
    except PipelineError as exc:
        _fail(f"{loaded.path}: {exc}")


@serve_app.command("pipelines")
def pipelines(
    config: ConfigOption = None,
    show_hash: Annotated[bool, typer.Option("--hash", help="Print only 'HASH  NAME' lines.")]
    = False,
) -> None:
    """List the config's pipelines: strategy, backend, corpus, calls, abstention, hash."""
    built = _pipelines(_config(config))
    if show_hash:
        for p in built:
            _echo(f"{p.hash}  {p.name}")
        return
    from rich.console import Console
    from rich.table import Table

    from medq._terminal import cell

    table = Table()
    for column in ("pipeline", "strategy", "model", "corpus", "calls/answer", "abstain below",
                   "hash"):
        table.add_column(column)
    for p in built:
        d = p.describe()
        threshold = d["abstain_below"]
        table.add_row(*map(cell, (
            p.name, d["strategy"], d["backend"]["model"], "+".join(d["corpus"]) or "—",
            d["calls_per_answer"], "—" if threshold is None else f"{threshold:g}",
            p.hash[:16])))
    Console(width=200).print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scopes: Annotated[str, typer.Option(help="pipeline:NAME or pipeline:*, several "
                                        "separated by commas.")],
    requests_per_minute: Annotated[int | None, typer.Option(help="This key's request "
                                                            "limit (default: the config's).")]
    = None,
    tokens_per_minute: Annotated[int | None, typer.Option(help="This key's token limit.")]
    = None,
    concurrent: Annotated[int | None, typer.Option(help="This key's requests in flight.")]
    = None,
) -> None:
    """Create a key; it is printed once, alone on the last line of standard output."""
    from medq.serve.keys import KeyStore, KeyStoreError, describe_limits

    limits = {k: v for k, v in (("requests_per_minute", requests_per_minute),
                                ("tokens_per_minute", tokens_per_minute),
                                ("concurrent", concurrent)) if v is not None}
    try:
        with KeyStore() as keys:
            token, record = keys.create(name, scopes, limits)
    except KeyStoreError as exc:
        _fail(str(exc))
    _echo(f"created key {record.prefix} ({record.name}) with scopes "
          f"{', '.join(record.scopes)}; limits {describe_limits(record.limits)}")
    _echo("the key is shown once; only its prefix and hash are stored:")
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (prefix, name, scopes, limits, created, revoked); never their secrets."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from medq._terminal import cell
    from medq.serve.keys import KeyStore, describe_limits

    with KeyStore() as keys:
        records = keys.list()
    table = Table()
    for column in ("prefix", "name", "scopes", "limits", "created", "revoked"):
        table.add_column(column)

    def when(t: float | None) -> str:
        return "—" if t is None else dt.datetime.fromtimestamp(t).isoformat(timespec="seconds")

    for r in records:
        table.add_row(*map(cell, (r.prefix, r.name, ", ".join(r.scopes),
                                  describe_limits(r.limits), when(r.created_at),
                                  when(r.revoked_at))))
    Console(width=200).print(table)


@keys_app.command("revoke")
def keys_revoke(which: Annotated[str, typer.Argument(help="The key's prefix or name.")]) -> None:
    """Revoke a key; the server refuses it from its next request on."""
    from medq.serve.keys import KeyStore, KeyStoreError

    try:
        with KeyStore() as keys:
            record = keys.revoke(which)
    except KeyStoreError as exc:
        _fail(str(exc))
    _echo(f"revoked {record.prefix} ({record.name})")


@audit_app.command("verify")
def audit_verify(
    path: Annotated[Path | None, typer.Option(help="The audit file (default: "
                                              "$MEDQ_HOME/serve/audit.sqlite).")] = None,
) -> None:
    """Check the audit log's hash chain; exit 1 naming the first row that does not hold."""
    from medq.serve.audit import verify_audit

    try:
        result = verify_audit(path)
    except FileNotFoundError as exc:
        _fail(str(exc))
    if not result.ok:
        _echo(f"audit log NOT intact: {result.problem} ({result.rows} rows before it hold)",
              err=True)
        raise typer.Exit(1)
    _echo(f"audit log intact: {result.rows} rows; head {result.head}")


@serve_app.command("calibrate")
def calibrate(
    run: Annotated[str, typer.Argument(help="A stored run of the pipeline (ID, prefix or "
                                       "'last').")],
    config: ConfigOption = None,
    pipeline: Annotated[str | None, typer.Option(help="The pipeline to set (default: the "
                                                 "config's only one).")] = None,
    target: Annotated[float, typer.Option("--target-selective-accuracy",
                                          help="Accuracy wanted on the answered items.")]
    = 0.95,
    min_answered: Annotated[int, typer.Option(help="Fewest items the threshold must "
                                              "answer on the run.")] = 30,
    force: Annotated[bool, typer.Option(help="Use a run of another strategy or model.")]
    = False,
) -> None:
    """Set a pipeline's abstention threshold from a stored run's risk–coverage curve."""
    from medq.serve.calibrate import CalibrationError, pick_threshold, write_threshold
    from medq.store import RunNotFoundError, Store

    loaded = _config(config)
    if pipeline is None:
        if len(loaded.pipelines) != 1:
            _fail(f"--pipeline is required: {loaded.path} has "
                  f"{', '.join(p.name for p in loaded.pipelines)}")
        pipeline = loaded.pipelines[0].name
    try:
        chosen_config = loaded.pipeline(pipeline)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    from medq.strategies.base import normalize

    with Store() as store:
        try:
            run_id = store.resolve_run_id(run)
        except RunNotFoundError as exc:
            _fail(str(exc))
        row = store.run(run_id)
        served = str(normalize(chosen_config.strategy, seed=chosen_config.seed))
        measured = row["info"].get("strategy_normalized") or row["strategy"]
        if not force and (measured != served or row["model"] != chosen_config.model):
            _fail(f"run {run_id} measured {row['model']} · {measured}, but pipeline "
                  f"{pipeline!r} serves {chosen_config.model} · {served}; pass --force to "
                  "use it anyway")
        try:
            chosen = pick_threshold(store.samples(run_id), target, run_id,
                                    min_answered=min_answered)
        except CalibrationError as exc:
            _fail(str(exc))
    try:
        write_threshold(loaded.path, pipeline, chosen)
    except CalibrationError as exc:
        _fail(str(exc))
    _echo(f"pipeline {pipeline!r}: abstain_below = {chosen.threshold:g} (run {run_id}: "
               f"selective accuracy {chosen.selective_accuracy:.3f}, 95% CI "
               f"{chosen.ci_low:.3f}–{chosen.ci_high:.3f}, answering {chosen.answered} of "
               f"{chosen.n} items, coverage {chosen.coverage:.3f}); written to {loaded.path}")
