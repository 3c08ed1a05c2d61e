"""The ``medq sweep`` commands: plan, run, status, merge (thin: see `medq.sweep`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from medq._cli_errors import error_line
from medq._terminal import printable

sweep_app = typer.Typer(help="Grids of runs as shards, on local processes or Ray.",
                        no_args_is_help=True,
                        context_settings={"help_option_names": ["-h", "--help"]})

PlanArg = Annotated[Path, typer.Argument(help="The plan file (TOML), e.g. grid.toml.")]


def _fail(message: str) -> None:
    error_line(message)
    raise typer.Exit(2)


def _plan(path: Path, fresh: bool) -> Any:
    from medq.sweep.plan import PlanError, load_plan, read_plan

    try:
        return load_plan(path) if fresh else read_plan(path)
    except PlanError as exc:
        _fail(str(exc))
    except (LookupError, ValueError) as exc:  # an unknown task, strategy or backend
        _fail(f"plan {path}: {exc.args[0] if exc.args else exc}")


def _line(text: str) -> None:
    typer.echo(printable(text, one_line=True))


@sweep_app.command("plan")
def plan(path: PlanArg) -> None:
    """Expand the grid into shards (one run each) and save the plan beside the file."""
    swept = _plan(path, fresh=True)
    saved = swept.save()
    for shard in swept.shards:
        s = shard.spec
        _line(f"{shard.shard_id}  {s.model}  {s.task}  {s.strategy}  seed {s.seed}")
    budgets = ", ".join(f"{e}: {n}" for e, n in swept.budgets.items())
    adaptive = " (each shard's window adapts below it: auto)" if swept.adaptive else ""
    _line(f"{len(swept.shards)} shards; budgets in flight per endpoint: {budgets}{adaptive}")
    _line(f"saved {saved}")


@sweep_app.command("run")
def run(
    path: PlanArg,
    executor: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: a local Ray).")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Shards at once (local), or CPUs of a local Ray.")] = None,
) -> None:
    """Run every shard not finished yet; the same command resumes after a kill."""
    from medq.sweep.executors import executor_for
    from medq.sweep.run import run_sweep

    try:
        chosen = executor_for(executor, address=address, workers=workers)
    except ValueError as exc:
        _fail(str(exc))
    swept = _plan(path, fresh=True)
    results = run_sweep(swept, chosen)
    for r in results:
        what = "skipped (done)" if r.skipped else f"{r.state}, {r.new_calls} new calls"
        _line(f"{r.shard_id}  {what}" + (f": {r.reason}" if r.reason else ""))
    failed = [r for r in results if r.state != "done"]
    _line(f"{len(results) - len(failed)} of {len(results)} shards done; "
          f"{sum(r.new_calls for r in results)} new calls")
    if failed:
        raise typer.Exit(1)


@sweep_app.command("status")
def status(path: PlanArg) -> None:
    """Each shard: done, running, failed or pending, with the reason."""
    from medq.sweep.run import counts, sweep_status

    statuses = sweep_status(_plan(path, fresh=False))
    for s in statuses:
        _line(f"{s.shard_id}  {s.state}" + (f": {s.reason}" if s.reason else ""))
    _line(", ".join(f"{n} {k}" for k, n in counts(statuses).items()))


@sweep_app.command("merge")
def merge(
    path: PlanArg,
    into: Annotated[Path | None, typer.Option(
        help="Store to merge into (default: medq's store, $MEDQ_HOME/medq.sqlite).")] = None,
) -> None:
    """Union the shard stores into one store, so show, compare and report see every run."""
    from medq.sweep.merge import merge_sweep

    report = merge_sweep(_plan(path, fresh=False), into)
    _line(f"merged {report.stores} shard stores: {report.runs} runs, {report.samples} "
          f"results, {report.calls_added} calls added ({report.calls_present} already there)")
    if report.missing:
        _line(f"not started, nothing to merge: {', '.join(report.missing)}")
