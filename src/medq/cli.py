"""The `medq` command line: a thin typer app over the public Python API.

Heavy libraries (aiohttp, torch, rich tables) are imported inside the commands that need
them, so `medq --help` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from medq._cli_errors import OneLineErrors, error_line, pause_gc, resume_gc
from medq._terminal import cell, for_terminal, printable
from medq.sweep.cli import sweep_app

HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    cls=OneLineErrors,
    help="Evaluate LLMs on medical QA benchmarks, honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP,
)


def _version(value: bool) -> None:
    if value:
        from medq import __version__

        typer.echo(f"medq {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print medq's version and exit.")] = False,
) -> None:
    """Evaluate LLMs on medical QA benchmarks, honestly."""


def _fail(message: str, code: int = 2) -> None:
    error_line(message)
    raise typer.Exit(code)


def _echo(text: str, err: bool = False) -> None:
    """A line for people: untrusted text in it is escaped (see `medq._terminal`)."""
    typer.echo(printable(text), err=err)


def _check_output(output: Path | None) -> None:
    """-o must name a file in a folder that exists (checked before any work is done)."""
    if output is None:
        return
    if output.is_dir():
        _fail(f"-o {output} is a folder; name a file")
    if not output.parent.is_dir():
        _fail(f"-o {output}: the folder {output.parent} does not exist")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def summary_table(summaries: list[dict[str, Any]], title: str | None = None) -> Any:
    """A rich table of run summaries: accuracy with 95% CI, n, invalid, truncated, errors.

    Model and strategy go in the title when every run shares them, so the numbers fit.
    """
    from rich.table import Table

    shared = {(s["model"], s["strategy"]) for s in summaries}
    per_run = len(shared) > 1
    if not per_run and summaries:
        model, strategy = shared.pop()
        title = f"{title + ' · ' if title else ''}{model} · {strategy}"
    table = Table(title=cell(title) if title else None)
    extra = [c for c, key in _KIND_COLUMNS if any(key in s for s in summaries)]
    columns = ["task", *(["model", "strategy"] if per_run else []), "n", "acc %", "95% CI",
               *extra, "invalid", "trunc.", "errors", "calls/item", "tokens/item"]
    for column in columns:
        table.add_column(column, justify="left" if column in {"task", "model", "strategy"}
                         else "right")
    for s in summaries:
        ci = "—" if s["ci_low"] is None else f"{_pct(s['ci_low'])}–{_pct(s['ci_high'])}"
        items = max(s["n"] + s["errors"] + (s.get("ungraded") or 0), 1)
        tokens = f"{s['prompt_tokens'] / items:.0f}/{s['completion_tokens'] / items:.0f}"
        # A judged run without right/wrong verdicts (rubrics) shows its score instead.
        shown = _pct(s["accuracy"]) if s["accuracy"] is not None or s.get("score") is None \
            else f"{_pct(s['score'])} (score)"
        table.add_row(
            *map(cell, (s["task"], *([s["model"], s["strategy"]] if per_run else []))),
            str(s["n"]),
            shown, ci,
            *(_kind_cell(s, column) for column in extra),
            f"{s['invalid']} ({_pct(s['invalid_rate'])}%)",
            f"{s['truncated']} ({_pct(s['truncation_rate'])}%)", str(s["errors"]),
            f"{s['calls'] / items:.1f}", tokens,
        )
    return table


# Columns of answer kinds whose headline is more than one accuracy: multi-answer sets
# (exact match and Hamming score) and visual QA (closed and open questions apart).
_KIND_COLUMNS = (("EMR %", "emr"), ("Hamming %", "hamming"), ("closed %", "closed_accuracy"),
                 ("open EM %", "open_exact_match"), ("open F1 %", "open_f1"))


def _kind_cell(s: dict[str, Any], column: str) -> str:
    """One answer-kind column: the value with its interval or its n."""
    def interval(key: str) -> str:
        if s.get(key) is None:
            return "—"
        low, high = s.get(f"{key}_ci_low"), s.get(f"{key}_ci_high")
        ci = f" ({_pct(low)}–{_pct(high)})" if low is not None else ""
        return f"{_pct(s[key])}{ci}"

    if column == "EMR %":
        return interval("emr")
    if column == "Hamming %":
        return interval("hamming")
    if column == "closed %":
        return f"{interval('closed_accuracy')} n={s.get('closed_n', 0)}"
    if column == "open EM %":
        return f"{_pct(s.get('open_exact_match'))} n={s.get('open_n', 0)}"
    return f"{_pct(s.get('open_f1'))} (recall {_pct(s.get('open_recall'))})"


def breakdown_table(field: str, groups: list[Any]) -> Any:
    """A rich table of per-group accuracy with 95% Wilson intervals."""
    from rich.table import Table

    table = Table(title=cell(f"by {field}"))
    for column in (field, "n", "acc %", "95% CI", "invalid", "trunc.", "errors"):
        table.add_column(column, justify="left" if column == field else "right")
    for g in groups:
        ci = "—" if g.ci_low is None else f"{_pct(g.ci_low)}–{_pct(g.ci_high)}"
        shown = _pct(g.accuracy) if g.accuracy is not None or g.score is None else \
            f"{_pct(min(1.0, max(0.0, g.score)))} (score)"  # clipped, as the headline is
        table.add_row(cell(g.group), str(g.n), shown, ci, str(g.invalid),
                      str(g.truncated), str(g.errors))
    return table


def _print(renderable: Any, width: int = 160) -> None:
    import sys

    from rich.console import Console

    # Off a terminal (CI logs, pipes) rich would wrap tables at 80 columns.
    Console(width=None if sys.stdout.isatty() else width).print(renderable)


CONCURRENCY_HELP = ("Model calls in flight at once: N, or auto (start at 8, grow while "
                    "responses are clean, halve on a 429 or a spent x-ratelimit budget).")
MAX_CONCURRENCY_HELP = "The most calls --concurrency auto may keep in flight."


@app.command("eval")
def eval_(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option(
        help="Task(s): a name, a comma-separated list, or a group (multimedqa, mirage, "
             "medagentsbench_hard); see `medq tasks`.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model spec, e.g. openai/gpt-4o-mini or hf/PATH.")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Files of the original release.")] = None,
    data_sha256: Annotated[str | None, typer.Option(
        help="Require this sha256 of the data file: --data FILE, or the file a task "
             "downloads from its release location (HealthBench).")] = None,
    sample: Annotated[bool, typer.Option(help="Use the bundled sample of the task.")] = False,
    strategy: Annotated[str | None, typer.Option(
        help="Strategy spec, e.g. cot (see `medq strategies NAME`); default: the task's own "
             "(direct for multiple choice).")] = None,
    scoring: Annotated[
        str, typer.Option(help="generative (extract the answer) or logprob.")
    ] = "generative",
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the API key.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    concurrency: Annotated[str, typer.Option(help=CONCURRENCY_HELP)] = "32",
    max_concurrency: Annotated[int, typer.Option(help=MAX_CONCURRENCY_HELP)] = 64,
    seed: Annotated[int, typer.Option(help="Seed for every random choice.")] = 0,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds allowed for one request [default: 120].")
    ] = None,
    max_retries: Annotated[
        int, typer.Option(help="Retries of a failed request (429, 5xx, timeout).")
    ] = 4,
    max_error_rate: Annotated[
        float, typer.Option(help="The run fails (and stops) above this fraction of items "
                            "in error.")
    ] = 0.05,
    max_response_mb: Annotated[
        float | None, typer.Option(help="Largest response body accepted, in MB [default: 8].")
    ] = None,
    n_per_request: Annotated[str, typer.Option(
        help="Samples of one request in one request with n: auto (where the server serves "
             "n, detected once), on, or off (one request per sample).")] = "auto",
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    config: Annotated[
        Path | None,
        typer.Option(help="Run file (TOML) fixing task, model, strategy, seed; flags override."),
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", help="Folder for results_<run>.json and samples_<run>.jsonl per run.")
    ] = None,
    temperature: Annotated[float | None, typer.Option(
        help="Temperature of every call the strategy leaves greedy (recorded with the run).")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(
        help="Completion limit of every call the strategy leaves unlimited.")] = None,
    dry_run: Annotated[bool, typer.Option(
        help="Print the plan (items, calls, preparation, judge calls, cost) and make no "
             "call.")] = False,
    max_calls: Annotated[int | None, typer.Option(
        help="Stop cleanly after N new model calls; the same command resumes.")] = None,
    price_in: Annotated[float | None, typer.Option(
        help="USD per million prompt tokens (or $MEDQ_HOME/prices.toml).")] = None,
    price_out: Annotated[float | None, typer.Option(
        help="USD per million completion tokens.")] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option("--probe", help="Robustness probe, e.g. permute:mode=cyclic (see `medq "
                     "probes`); repeatable, applied in order. Multiple-choice tasks only."),
    ] = None,
    judge: Annotated[
        list[str] | None,
        typer.Option(help="Judge model for judged tasks, e.g. openai/gpt-4.1; repeat for a "
                     "jury (a majority of the whole jury decides)."),
    ] = None,
    judge_base_url: Annotated[
        str | None, typer.Option(help="The judges' server URL (default: the model's).")
    ] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="The judges' API key variable (default: the model's).")
    ] = None,
    max_ungraded: Annotated[
        float | None,
        typer.Option(help="Fail (exit 1) when more than this fraction of the items or "
                     "criteria is ungraded [default: 0.01]."),
    ] = None,
    patient: Annotated[
        str | None, typer.Option(help="Interactive strategies: the patient variant "
                                 "(factselect, instruct, direct, random).")
    ] = None,
    patient_model: Annotated[
        str | None, typer.Option(help="Model playing the patient (default: --model).")
    ] = None,
    patient_base_url: Annotated[
        str | None, typer.Option(help="Its OpenAI-compatible server (default: --base-url).")
    ] = None,
) -> None:
    """Evaluate a model on one or more tasks; prints the plan, the results and the run IDs.

    Running the same command again resumes the run: finished items are kept and no call
    already made is repeated. With --config RUNFILE the run comes from the file, and any
    flag given on the command line overrides the file's value. A strategy with reference
    conditions (mediq: full, initial, interactive) runs each of them, paired by item, and
    prints them in one table, unless its spec names one.

    Exit status: 0 finished, 1 failed (no or too little evidence: see the one-line
    reason), 2 bad input, 3 the same run is running in another process, 130 interrupted.
    """
    pause_gc()  # the imports, the tasks and the plans live until the run ends
    from medq.evaluation import CallSettings, aggregate_of, evaluate_tasks, plan_tasks
    from medq.plan import actual_cost, price_for
    from medq.run_settings import RunFailedError, RunSettings
    from medq.runner import EvalSpec, ModelRef
    from medq.store import Store
    from medq.tasks.groups import expand_tasks

    probes = tuple(probe or ())
    run_settings = None
    roles: dict[str, Any] = {}
    if judge:
        from medq.judge.jury import judge_roles

        roles = judge_roles(judge, base_url=judge_base_url, api_key_env=judge_api_key_env)
    if config is not None:
        (task, model, data, sample, strategy, base_url, api_key_env, limit, seed, run_settings,
         file_probes, file_roles, file_max_ungraded) = _from_runfile(ctx, config)
        probes = probes or file_probes
        roles = {**file_roles, **roles}
        max_ungraded = file_max_ungraded if max_ungraded is None else max_ungraded
    max_ungraded = DEFAULT_MAX_UNGRADED if max_ungraded is None else max_ungraded
    if not 0 <= max_ungraded <= 1:
        _fail(f"--max-ungraded must be a fraction in [0, 1], not {max_ungraded}")
    if patient is not None:
        strategy = _run_or_explain(lambda: _with_param(strategy, "patient", patient))
    if patient_model is not None:
        roles["patient"] = ModelRef(patient_model, base_url=patient_base_url)
    elif patient_base_url is not None:
        _fail("--patient-base-url needs --patient-model")
    if task is None or model is None:
        _fail("--task and --model are required (or --config RUNFILE)")
    if sample and data is not None:
        _fail("--sample and --data exclude each other: --sample evaluates the bundled "
              "sample, --data the files you name")
    if scoring not in {"generative", "logprob"}:
        _fail(f"--scoring must be generative or logprob, not {scoring!r}")
    if output_format not in {"text", "json"}:
        _fail(f"--format must be text or json, not {output_format!r}")
    if scoring == "logprob":
        strategy = strategy or "direct"
        if strategy not in {"direct", "logprob"} and not strategy.startswith("logprob:"):
            _fail("--scoring logprob scores options directly; it takes no --strategy")
        strategy = strategy if strategy.startswith("logprob") else "logprob"
    names = _run_or_explain(lambda: expand_tasks(task))
    price = _run_or_explain(lambda: price_for(model, price_in, price_out))
    from medq.tasks.base import default_strategy

    specs = _run_or_explain(lambda: [
        EvalSpec(task=name, model=model, strategy=strategy or default_strategy(name),
                 data=str(data) if data else None, sample=sample, limit=limit, seed=seed,
                 base_url=base_url, api_key_env=api_key_env, probes=probes, roles=roles)
        for name in names])
    for one in specs:
        if _run_or_explain(lambda one=one: _judged(one)) and "judge" not in dict(one.roles):
            _fail(f"task {one.task!r} is graded by a judge: give --judge MODEL (repeat it "
                  f"for a jury)")
    from medq.interactive.conditions import expand_conditions, group_conditions

    # A strategy with reference conditions (mediq: full, initial, interactive) runs each,
    # paired by item, unless its spec names one.
    expanded = _run_or_explain(lambda: expand_conditions(specs))
    specs = [one for _, one in expanded]
    if data_sha256 is not None:
        _check_data_sha256(specs, data_sha256)
    run_settings = run_settings or _run_or_explain(lambda: RunSettings(
        concurrency=concurrency, max_concurrency=max_concurrency, timeout=timeout,
        max_retries=max_retries, max_error_rate=max_error_rate,
        max_response_mb=max_response_mb, n_per_request=n_per_request))
    settings = _run_or_explain(lambda: CallSettings(
        temperature, max_tokens, max_calls, run_settings.concurrency, run=run_settings))
    if max_calls is not None and max_calls < 1:
        _fail(f"--max-calls must be 1 or more, not {max_calls}")
    with Store() as store:
        plans = _run_or_explain(lambda: plan_tasks(specs, settings, store))
        plan_text = [line for plan in plans for line in plan.lines(price)]
        if len(plans) > 1 and all(p.calls is not None for p in plans):
            plan_text.append(f"total: {sum(p.calls or 0 for p in plans):,} model calls over "
                             f"{len(plans)} tasks")
        plan_text.extend(_run_or_explain(lambda: [_judge_plan(spec) for spec in specs
                                                  if _judged(spec)]))
        if dry_run:
            _echo("\n".join(plan_text + ["dry run: no model call was made."]))
            return
        _echo("\n".join(plan_text), err=True)

        def run_all() -> Any:
            try:
                return evaluate_tasks(specs, settings, store, output=output,
                                      on_start=lambda run_id: _echo(f"run {run_id}", err=True),
                                      tasks=[plan.loaded for plan in plans])
            except RunFailedError as exc:
                if output_format == "json" and exc.summary:
                    _echo(json.dumps(exc.summary, indent=2))
                raise

        resume_gc()
        outcome = _run_or_explain(run_all)
        conditions = group_conditions(store, expanded, outcome.results, seed=seed,
                                      interrupted=outcome.interrupted)
        infos = {r.run_id: store.run(r.run_id)["info"] for r in outcome.results}
        where = store.path
    summaries = [r.summary for r in outcome.results]
    combined = None if conditions else aggregate_of(outcome.results)
    if output_format == "json":
        from medq.interactive.conditions import conditions_json

        body: Any = summaries[0] if len(summaries) == 1 and combined is None else {
            "runs": summaries, "aggregate": combined}
        typer.echo(json.dumps(conditions_json(conditions) if conditions else body, indent=2))
    else:
        if conditions:
            from medq.interactive.conditions import render_conditions

            _echo("\n".join(render_conditions(group) for group in conditions))
        elif summaries:
            _print(summary_table(summaries))
        for one in summaries:
            judged = _judged_lines(one)
            if judged:
                _echo("\n".join([f"{one['run_id']}:", *judged] if len(summaries) > 1
                                 else judged))
        if combined is not None:
            typer.echo(aggregate_line(combined))
        for r in outcome.results:
            _echo(f"run_id: {r.run_id}  (new model calls: {r.new_calls})")
            if r.summary["errors"]:
                _echo(_error_line(r.summary))
            window = infos[r.run_id].get("window")
            if window and (window["mode"] == "auto" or window.get("rate_limited")):
                from medq.concurrency import WindowStats

                _echo(WindowStats.from_json(window).describe(), err=True)
    if price is not None:
        for r in outcome.results:
            typer.echo(f"cost of {r.run_id}: ${actual_cost(r.summary, infos[r.run_id], price):.4f}"
                       f" at ${price.input}/${price.output} per million tokens", err=True)
    for path in outcome.files:
        _echo(f"wrote {path}", err=True)
    if outcome.results:
        typer.echo("\n".join(next_steps([r.run_id for r in outcome.results], where)), err=True)
    if outcome.budget_reached:
        rest = f"; not started: {', '.join(outcome.not_started)}" if outcome.not_started else ""
        typer.echo(f"stopped at --max-calls {max_calls} after {outcome.new_calls} new calls"
                   f"{rest}: run the same command again to resume.", err=True)
        return
    if outcome.interrupted:
        typer.echo("interrupted: run the same command again to resume.", err=True)
        raise typer.Exit(130)
    from medq.judge.summary import ungraded_failure

    failures = [f for f in (ungraded_failure(s, max_ungraded) for s in summaries) if f]
    if failures:
        _fail("; ".join(failures), code=1)


DEFAULT_MAX_UNGRADED = 0.01


def _check_data_sha256(specs: list[Any], sha256: str) -> None:
    """Load each spec's data once with `sha256` required (a download is verified before it
    is cached; later loads read the verified cache)."""
    from medq.tasks._release import sha256_arg
    from medq.tasks.base import load_task

    digest = _run_or_explain(lambda: sha256_arg(sha256))
    for task, data, sample in dict.fromkeys((s.task, s.data, s.sample) for s in specs):
        _run_or_explain(lambda t=task, d=data, x=sample: load_task(t, d, sample=x,
                                                                   sha256=digest))


def _judged(spec: Any) -> bool:
    """Whether the spec's task (after its probes) is graded by a judge."""
    from medq import registry

    grading = None
    if spec.probes:
        from medq.probes.base import probe_grading

        grading = probe_grading(spec.probes)
    grader = grading.grader if grading is not None else getattr(
        registry.tasks.get(spec.task), "grader", None)
    return hasattr(grader, "plan")


def _judge_plan(spec: Any) -> str:
    """What grading `spec` would cost, without a call (see `medq.judge.cost`)."""
    from medq.judge.cost import estimate
    from medq.probes.base import apply_probes, probe_grading
    from medq.tasks.base import load_task

    task = load_task(spec.task, spec.data, sample=spec.sample)
    questions = list(task.questions[: spec.limit] if spec.limit else task.questions)
    grader = task.grader
    if spec.probes:
        questions = apply_probes(questions, spec.probes, seed=spec.seed,
                                 pool=task.questions).questions
        grading = probe_grading(spec.probes)
        grader = grading.grader if grading is not None else grader
    judges = sum(1 for name, _ in spec.roles if name == "judge" or name.startswith("judge_"))
    return "  " + estimate(questions, grader, judges).describe()


def _judged_lines(summary: dict[str, Any]) -> list[str]:
    """The score, its interval and the ungraded count of a judged run; its judges, each
    with its meta-evaluation against physicians or the absence of one."""
    if "score_unclipped" not in summary:
        return []
    if summary["score"] is None:
        head = "score: — (no item was graded)"
    else:
        head = (f"score: {_pct(summary['score'])}% (95% CI {_pct(summary['score_ci_low'])}–"
                f"{_pct(summary['score_ci_high'])}, item bootstrap, seed "
                f"{summary.get('score_ci_seed', 0)}; unclipped mean "
                f"{_pct(summary['score_unclipped'])}%)")
    lines = [f"{head}; graded {summary['graded']}, ungraded {summary['ungraded']} "
             f"({_pct(summary['ungraded_rate'])}%)"]
    judges = summary.get("judges")
    if judges:
        for name, j in judges["per_judge"].items():
            mean = "—" if j["mean_score"] is None else f"{_pct(j['mean_score'])}%"
            line = (f"  {name} {j['model'] or ''}: {j['verdicts']} verdicts, {j['invalid']} "
                    f"invalid, {j['reasks']} re-asks, own mean {mean}")
            if "meta" in j:
                line += f"; {_meta_text(j['meta'], 'judge')}"
            lines.append(line)
        agreement = judges.get("agreement")
        if agreement:
            kappas = ", ".join(f"{pair} κ {_num(k['kappa'])}"
                               for pair, k in agreement["kappa"].items())
            lines.append(f"  agreement: {kappas}; Krippendorff α {_num(agreement['alpha'])}; "
                         f"disagreement {_pct(agreement['disagreement_rate'])}%")
        if len(judges["jury"]) > 1 and "meta" in judges:
            lines.append(f"  jury: {_meta_text(judges['meta'], 'jury')}")
    return lines


def _meta_text(meta: dict[str, Any] | None, who: str) -> str:
    """A judge's (or jury's) `medq judge meta` result in a few words, or its absence."""
    if meta is None:
        return f"no meta-evaluation for this {who}"
    return (f"meta-eval macro-F1 {_num(meta['macro_f1'])}, κ {_num(meta['kappa'])}, n "
            f"{meta['judged']} ({meta['pairs']} physician pairs)")


def _error_line(summary: dict[str, Any]) -> str:
    """How many items failed, and the bound above which the run would fail."""
    return (f"errors: {summary['errors']} of {summary['n_items']} items "
            f"({_pct(summary.get('error_rate'))}%); a run fails above "
            f"{_pct(summary.get('max_error_rate'))}% (--max-error-rate). Running the same "
            "command again retries them.")


def aggregate_line(combined: dict[str, Any]) -> str:
    """Micro and macro accuracy over the tasks, each with its 95% interval."""
    parts = []
    for name in ("micro", "macro"):
        a = combined[name]
        parts.append(f"{name} {_pct(a['accuracy'])}% ({_pct(a['ci_low'])}–{_pct(a['ci_high'])})")
    return (f"over {combined['n_tasks']} tasks (n={combined['n']}): " + ", ".join(parts)
            + " · micro pools the items, macro averages the tasks")


def medq_command() -> str:
    """How to call medq here: ``medq`` when this one is on PATH, else its path."""
    import shutil
    import sys

    invoked = Path(sys.argv[0]) if sys.argv and Path(sys.argv[0]).name == "medq" else None
    if invoked is None:
        return "medq"
    found = shutil.which("medq")
    if found and Path(found).resolve() == invoked.resolve():
        return "medq"
    return str(invoked)


def next_steps(run_ids: list[str], store_path: Path) -> list[str]:
    """The commands to look at what a command stored (with its run IDs) and where it is."""
    medq = medq_command()
    lines = [f"stored in {store_path}", "next:"]
    lines += [f"  {medq} show {run_id}" for run_id in run_ids[:5]]
    lines.append(f"  {medq} report {' '.join(run_ids)} -o report.html")
    return lines


def _from_runfile(ctx: typer.Context, config: Path) -> tuple[Any, ...]:
    """The eval settings from a run file, with the flags given on the command line winning."""
    from medq.runfile import load_runfile

    names = ("task", "model", "data", "sample", "strategy", "base_url", "api_key_env",
             "limit", "concurrency", "max_concurrency", "seed", "timeout", "max_retries",
             "max_error_rate", "max_response_mb", "n_per_request")
    # Compared by name: typer may carry its own copy of click's ParameterSource enum.
    given = {
        name: ctx.params[name]
        for name in names
        if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"
    }
    if given.get("data") is not None:
        given["data"] = str(given["data"])
    run = _run_or_explain(lambda: load_runfile(config, **given))
    spec = run.spec
    return (spec.task, spec.model, spec.data, spec.sample, spec.strategy, spec.base_url,
            spec.api_key_env, spec.limit, spec.seed, run.settings, spec.probes,
            dict(spec.roles), run.max_ungraded)

def _with_param(strategy: str, name: str, value: Any) -> str:
    """`strategy` with parameter `name` set to `value` (from a flag such as --patient);
    StrategySpecError when the strategy has no such parameter or sets another value."""
    import inspect

    from medq.registry import UnknownNameError
    from medq.registry import strategies as registry
    from medq.strategies._shared.spec import StrategySpec, StrategySpecError

    spec = StrategySpec.parse(strategy)
    try:
        factory = registry.get(spec.name)
    except UnknownNameError as exc:
        raise StrategySpecError(str(exc)) from None
    if name not in inspect.signature(factory).parameters:
        raise StrategySpecError(f"--{name} needs a strategy with a {name} parameter "
                                f"(strategy {spec.name!r} has none)")
    if spec.params.get(name, value) != value:
        raise StrategySpecError(f"--{name} {value} contradicts the strategy's "
                                f"{name}={spec.params[name]}")
    return str(StrategySpec(spec.name, {**spec.params, name: value}))


def _run_or_explain(action: Any) -> Any:
    """Run `action`, turning medq's expected errors into one clear line and exit code 2
    (1 for a failed run, 3 for a run busy in another process)."""
    try:
        return action()
    except typer.Exit:
        raise
    except Exception as exc:
        code = _exit_code(exc)  # the error classes are imported only once one is raised
        if code is None:
            raise
        from medq.run_settings import RunFailedError, SettingError

        if isinstance(exc, SettingError):
            _fail(exc.flag())
        if isinstance(exc, RunFailedError):
            _fail(f"{exc} (what finished is kept: fix this and run the same command to "
                  "resume)", 1)
        _fail(str(exc), code)


def _exit_code(exc: Exception) -> int | None:
    """The exit code of one of medq's expected errors; None for any other exception."""
    from medq.liveness import RunBusyError
    from medq.models.base import ModelError
    from medq.registry import UnknownNameError
    from medq.run_settings import RunFailedError, SettingError
    from medq.store import RunNotFoundError
    from medq.strategies._shared.spec import StrategySpecError
    from medq.tasks.base import DatasetUnavailableError, TaskDataError

    if isinstance(exc, SettingError):
        return 2
    if isinstance(exc, RunFailedError):
        return 1
    if isinstance(exc, RunBusyError):
        return 3
    if isinstance(exc, ModelError | UnknownNameError | RunNotFoundError | StrategySpecError
                  | DatasetUnavailableError | TaskDataError | ValueError | FileNotFoundError):
        return 2
    return None


@app.command()
def tasks(
    name: Annotated[str | None, typer.Argument(help="A task or group for its card.")] = None,
) -> None:
    """List the benchmarks (and task groups); with NAME, a task's card: splits, items, the
    files --data expects, the original release, the Hub copy, the sample, licence, citation."""
    from rich.table import Table

    from medq.tasks.base import describe_tasks
    from medq.tasks.groups import GROUPS

    if name is not None:
        if name in GROUPS:
            typer.echo(f"{name}: the tasks {', '.join(GROUPS[name])} (evaluate them with "
                       f"--task {name}; each has its own card)")
            return
        from medq.describe import task_card

        _print_card(_run_or_explain(lambda: task_card(name)))
        return
    table = Table()
    for column in ("task", "split", "paper", "language"):
        table.add_column(column)
    for row in describe_tasks():
        table.add_row(*row)
    _print(table)
    groups = Table(title="groups (--task NAME evaluates them all, with micro/macro aggregates)")
    for column in ("group", "tasks"):
        groups.add_column(column)
    for group, names in GROUPS.items():
        groups.add_row(group, ", ".join(names))
    _print(groups)


@app.command()
def strategies(
    name: Annotated[str | None, typer.Argument(help="A strategy for its card.")] = None,
) -> None:
    """List the inference strategies; with NAME, its paper, calls per item and every
    parameter with type, default and meaning."""
    import importlib

    from rich.table import Table

    from medq.describe import paper_of
    from medq.registry import strategies as registry
    from medq.strategies.base import strategy_info

    if name is not None:
        from medq.describe import strategy_card

        _print_card(_run_or_explain(lambda: strategy_card(name)))
        return
    table = Table()
    for column in ("strategy", "calls/item", "paper"):
        table.add_column(column)
    for strategy in registry.names():
        module = importlib.import_module(registry.get(strategy).__module__)
        table.add_row(strategy, str(strategy_info(strategy)["calls_per_item"]),
                      paper_of(module.__doc__))
    _print(table)
    typer.echo("`medq strategies NAME` lists a strategy's parameters.")


def _print_card(card: Any) -> None:
    from rich.table import Table

    rows = Table(title=card.title, show_header=False)
    rows.add_column(style="bold")
    rows.add_column()
    for label, text in card.rows:
        rows.add_row(label, text)
    _print(rows)
    if card.table is not None:
        table = Table()
        for column in card.columns:
            table.add_column(column)
        for row in card.table:
            table.add_row(*row)
        _print(table)


@app.command()
def runs(
    task: Annotated[str | None, typer.Option(help="Only runs of this task.")] = None,
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    status: Annotated[str | None, typer.Option(
        help="Only runs with this status (running, finished, interrupted, failed).")] = None,
) -> None:
    """List stored runs, newest first: created, items done of total, accuracy, status and
    the data they read (content hash and source)."""
    import time

    from rich.table import Table

    from medq.store import Store

    table = Table()
    for column in ("run_id", "created", "status", "task", "model", "strategy", "n/total",
                   "acc %", "data"):
        table.add_column(column, justify="right" if column in {"n/total", "acc %"} else "left",
                         overflow="fold")
    with Store(readonly=True) as store:
        for r in store.runs():
            if (task and r["task"] != task) or (model and r["model"] != model) or (
                    status and r["status"] != status):
                continue
            info = json.loads(r["info"])
            accuracy = store.counts(r["run_id"]).accuracy  # the one rule, on 4 columns
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
            table.add_row(
                *map(cell, (r["run_id"], created, r["status"], r["task"], r["model"],
                            r["strategy"])),
                f"{r['n_done']}/{info.get('n_items', '?')}", _pct(accuracy),
                cell(data_identity(info)),
            )
    _print(table, width=240)


def data_identity(info: dict[str, Any]) -> str:
    """A short name for the data a run read: its content hash and where it came from."""
    digest = (info.get("data_hash") or (info.get("identity") or {}).get("data") or "")[:8]
    source = str(info.get("task_source") or info.get("imported_from") or "")
    if source.startswith("hub:"):
        source = source.split("@")[0]
    elif source and source != "bundled sample":
        source = Path(source.split("@sha256:")[0]).name  # a release file: its name
    return " ".join(part for part in (digest, source) if part) or "—"


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run ID, unique prefix, or 'last'.")],
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    by: Annotated[
        list[str] | None,
        typer.Option(help="Break accuracy down by a metadata field (subject, exam_step, "
                     "specialty, language, source, topic, ...) or by 'extraction' (the "
                     "rule that read each answer, and each invalid reason); repeatable."),
    ] = None,
    extractor: Annotated[
        str | None,
        typer.Option(help="Show the results of an earlier extractor version (default: the "
                     "run's current one; `medq rescore` keeps the earlier ones)."),
    ] = None,
) -> None:
    """Show a run's accuracy (95% Wilson CI), n, invalid, truncated, errors, calls, tokens."""
    from dataclasses import asdict

    from medq.judge.summary import attach_meta
    from medq.scoring.metrics import summarize
    from medq.store import Store

    if output_format not in {"text", "json"}:
        _fail(f"--format must be text or json, not {output_format!r}")
    with Store(readonly=True) as store:
        run_id = _run_or_explain(lambda: store.resolve_run_id(run))
        row = store.run(run_id)
        versions = store.extractor_versions(run_id)
        if extractor is not None and extractor not in versions:
            _fail(f"--extractor {extractor!r}: run {run_id} has results for extractor "
                  f"version(s) {', '.join(versions) or 'none'}")
        samples = list(store.samples(run_id, extractor))
        summary = attach_meta(summarize(row, samples), store)
        owner = store.run_owner(run_id)
        group = row["info"].get("conditions")  # a run of a group of reference conditions
        if group:
            from medq.interactive.conditions import condition_summary

            group = condition_summary(store, group)
    fields = sorted({k for s in samples for k in (s["details"].get("metadata") or {})}
                    | {"extraction"})
    unknown = [f for f in by or () if f not in fields]
    if unknown:
        _fail(f"--by {unknown[0]!r}: run {run_id} has no such metadata field; its fields: "
              f"{', '.join(fields) or 'none'}")
    if group:
        summary["conditions"] = group
    summary["extractor_version"] = extractor or summary["extractor_version"]
    summary["extractor_versions"] = versions
    failure = owner.get("failure") if owner is not None else None
    if failure is not None and summary["status"] == "failed":
        summary["failure"] = failure
    groups: dict[str, Any] = {}
    if by:
        from medq.scoring.stats import breakdown  # numpy: only for --by

        groups = {field: breakdown(samples, field) for field in by}
    if row["info"].get("probe"):
        from medq.probes import clean_delta

        with Store(readonly=True) as store:
            summary.update(clean_delta(store, row, samples))
    if output_format == "json":
        from medq.outputs import provenance

        summary["provenance"] = provenance(row)
        if groups:
            summary["breakdowns"] = {f: [asdict(g) for g in gs] for f, gs in groups.items()}
        typer.echo(json.dumps(summary, indent=2))
        return
    _print(summary_table([summary], title=run_id))
    for field, stats in groups.items():
        _print(breakdown_table(field, stats))
    from medq.liveness import status_text

    lines = [f"status: {status_text(summary)}   wall time: {summary['wall_s']:.1f} s"]
    if summary.get("failure"):
        lines.append(f"failed: {summary['failure']}")
    if "acc_norm" in summary:
        lines.append(
            f"acc_norm: {_pct(summary['acc_norm'])}% "
            f"({_pct(summary['acc_norm_ci_low'])}–{_pct(summary['acc_norm_ci_high'])})"
        )
    lines.extend(_import_lines(summary, row["info"]))
    if (row["info"].get("n_per_request") or {}).get("models"):  # else no lines: no asyncio
        from medq.coalesce import describe

        lines.extend(describe(row["info"]))
    lines.extend(_judged_lines(summary))
    from medq.scoring.metrics import task_metric_lines

    lines.extend(task_metric_lines(row["task"], summary))
    lines.extend(_probe_lines(summary))
    _echo("\n".join(lines))


@app.command()
def rescore(
    run: Annotated[str, typer.Argument(help="Run ID, unique prefix, or 'last'.")],
) -> None:
    """Re-extract and re-score a run from its stored responses, with no model calls."""
    from medq.runner import rescore as rescore_run

    result = _run_or_explain(lambda: rescore_run(run))
    _print(summary_table([result.summary], title=f"{result.run_id} (rescored)"))
    report = result.summary.get("rescore")
    if report:
        _echo(f"read again: {report['reread']} items (extractor {report['from_version']}"
               f" -> {report['to_version']}; the earlier results stay readable with "
               f"`medq show {result.run_id} --extractor {report['from_version']}`)")
        for why, n in report["kept"].items():
            _echo(f"kept their previous result: {n} items — {why}")


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="Run ID, unique prefix, or 'last'.")],
    output_format: Annotated[
        str, typer.Option("--format", help="jsonl, csv or parquet.")
    ] = "jsonl",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output file.")] = None,
) -> None:
    """Export a run's per-item results (stdout unless -o; parquet needs -o)."""
    from medq.export import export_run

    _check_output(output)
    _run_or_explain(lambda: export_run(run, output_format, output))


@app.command()
def demo(
    limit: Annotated[int | None, typer.Option(min=1, help="Items per task.")] = None,
) -> None:
    """Evaluate on the bundled samples: offline by replaying GPT-4's released MIRAGE
    answers, or live with the model named in $MEDQ_MODEL (and $OPENAI_BASE_URL)."""
    from medq.demo import run_demo
    from medq.store import Store

    summaries, note = _run_or_explain(lambda: run_demo(os.environ.get("MEDQ_MODEL"), limit))
    _echo(note)
    _print(summary_table(summaries, title="medq demo: bundled samples"))
    with Store() as store:
        where = store.path
    ids = [s["run_id"] for s in summaries]
    medq = medq_command()
    typer.echo("\n".join([
        f"stored in {where}",
        "next:",
        f"  {medq} show {ids[0]}",
        f"  {medq} report {' '.join(ids)} -o demo.html",
        f"  {medq} runs",
    ]))
    if medq != "medq":
        typer.echo(f"put medq on PATH: source {Path(medq).parent / 'activate'}   "
                   f"(or: export PATH=\"{Path(medq).parent.resolve()}:$PATH\")")


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Run IDs, unique prefixes, or 'last'.")],
    baseline: Annotated[
        str | None, typer.Option(help="Compare each run with this one instead of all pairs.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 0,
    resamples: Annotated[int, typer.Option(min=1, help="Paired bootstrap resamples.")] = 10_000,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json or markdown.")
    ] = "text",
) -> None:
    """Compare runs on their shared items: McNemar exact test, paired bootstrap interval
    of the accuracy difference, Holm correction, and a win / tie / loss verdict per pair."""
    from medq.compare import compare_runs, render_comparison
    from medq.store import Store

    if output_format not in {"text", "json", "markdown"}:
        _fail(f"--format must be text, json or markdown, not {output_format!r}")
    with Store(readonly=True) as store:
        result = _run_or_explain(
            lambda: compare_runs(
                store, runs, baseline=baseline, seed=seed, n_resamples=resamples
            )
        )
        disjoint = [p for p in result.pairs if p.n_shared == 0 and not p.excluded_errors]
        if disjoint:
            p = disjoint[0]
            a, b = store.run(p.run_a), store.run(p.run_b)
            _fail(f"runs {p.run_a} ({a['task']}) and {p.run_b} ({b['task']}) share no items "
                  f"(items pair by ID within one task and its data), so nothing can be "
                  f"compared; compare runs of the same task")
    typer.echo(for_terminal(render_comparison(result, output_format), sys.stdout))


@app.command()
def report(
    runs: Annotated[list[str], typer.Argument(help="Run IDs, unique prefixes, or 'last'.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output file.")] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="html, markdown or json.")
    ] = "html",
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 0,
) -> None:
    """Write a report of one or more runs (stdout unless -o): html is one self-contained
    page with summary, subgroups, calibration, comparisons and a per-item browser."""
    from medq.report import build_report
    from medq.store import Store

    _check_output(output)
    with Store(readonly=True) as store:
        store.verify(("calls",))  # the report shows stored prompts and responses too
        text = _run_or_explain(lambda: build_report(store, runs, output_format, seed=seed))
    if output is None:
        typer.echo(for_terminal(text, sys.stdout), nl=False)
    else:
        from medq._atomic import atomic_write_text

        atomic_write_text(output, text)  # whole or not at all: never a truncated report
        _echo(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB)", err=True)


def _import_lines(summary: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """For imported runs: where the predictions came from, what is missing, and the paper's
    own figure beside medq's."""
    lines = []
    if "imported_from" in info:
        stored = summary["n"] + summary["errors"]
        total = info.get("task_items", info["n_items"])
        lines.append(
            f"imported from {info['imported_from']} ({info['format']}): {stored} of "
            f"{total} task items; {info['missing_items']} missing (not scored)"
        )
        if stored < info["imported"]:
            lines.append(f"incomplete: {info['imported'] - stored} of the file's "
                         f"{info['imported']} predictions are not stored yet; run the same "
                         "import again to finish it")
        if info.get("gold_mismatches"):
            lines.append(f"warning: {info['gold_mismatches']} items have another gold answer "
                         "in the file than in the task")
    if "paper_accuracy" in summary:
        parser = f" ({summary['paper_parser']})" if summary.get("paper_parser") else ""
        medq = "—" if summary["accuracy"] is None else f"{100 * summary['accuracy']:.2f}%"
        lines.append(
            f"paper's own parser: {100 * summary['paper_accuracy']:.2f}%{parser}; "
            f"medq: {medq} with {summary['invalid']} invalid"
        )
    return lines


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Released predictions (JSON lines, or .gz).")],
    task: Annotated[str, typer.Option(help="Task the predictions answer (see `medq tasks`).")],
    model: Annotated[
        str, typer.Option(help="Name to store the run under (biasmedqa: selects the model).")
    ],
    input_format: Annotated[
        str, typer.Option("--format", help="mirage, medagentsbench, biasmedqa or jsonl.")
    ] = "jsonl",
    data: Annotated[Path | None, typer.Option(help="Files of the task's original release.")] = None,
    sample: Annotated[bool, typer.Option(help="Questions from the task's bundled sample.")] = False,
    condition: Annotated[
        str | None, typer.Option(help="biasmedqa: the condition, e.g. no_bias, false_consensus.")
    ] = None,
) -> None:
    """Import predictions made elsewhere as a run scored by medq's own extractor, with the
    paper's own figure beside medq's. Importing the same file again changes nothing.

    Exit status: 0 imported, 2 bad input, 3 the same import is running, 130 interrupted."""
    from medq.importers import import_predictions

    result = _run_or_explain(
        lambda: import_predictions(
            file, task=task, model=model, fmt=input_format, data=data, sample=sample,
            condition=condition,
        )
    )
    if result.summary["status"] == "interrupted":
        _fail("interrupted: run the same import again to finish it.", 130)
    _print(summary_table([result.summary], title=result.run_id))
    _echo("\n".join(_import_lines(result.summary, result.info)))
    _echo(f"run_id: {result.run_id}" + ("  (already imported)" if result.existed else ""))


@app.command()
def doctor(
    fix: Annotated[
        bool, typer.Option(help="Remove the leftovers of killed writes (never a run).")
    ] = False,
) -> None:
    """Check medq's folder: the store (SQLite integrity check, items of runs that do not
    exist), the corpora, and leftovers of killed writes. Exits 1 if it finds a problem."""
    from medq.doctor import diagnose, remove_leftovers

    found = diagnose()
    _echo(f"medq doctor: {found.home}")
    for finding in found.findings:
        _echo(f"  {finding.level:<7} {printable(finding.message, one_line=True)}")
    if fix and found.leftovers:
        _echo(f"removed {remove_leftovers(found)} leftovers of killed writes")
        found = diagnose()
    if not found.ok:
        _echo("problems found (see above)", err=True)
        raise typer.Exit(1)
    _echo("no problems found")


def _probe_lines(summary: dict[str, Any]) -> list[str]:
    """For probed runs: the robustness metrics and the paired difference from the clean run."""
    if "probe" not in summary:
        return []
    recall = ", ".join(f"{k} {_pct(v)}" for k, v in summary["position_recall"].items())
    lines = [f"probe: {' → '.join(summary['probe'])}; consistent correct "
             f"{_pct(summary['consistent_accuracy'])} %, flip rate {_pct(summary['flip_rate'])} "
             f"%, RStd {_pct(summary['rstd'])}; recall by gold position (%): {recall}"]
    if summary["delta"] is None:
        lines.append("clean run not in the store: `medq probe` runs both and pairs them")
    else:
        lines.append(f"vs clean run {summary['clean_run']}: {100 * summary['delta']:+.1f} pp "
                     f"(95% CI {100 * summary['delta_ci_low']:+.1f} to "
                     f"{100 * summary['delta_ci_high']:+.1f}), McNemar p = "
                     f"{summary['p_value']:.4g}")
    return lines


@app.command("tune-prompt")
def tune_prompt(
    task: Annotated[str, typer.Option(help="Development task the formats are tuned on, "
                                      "e.g. medqa_dev (never a test split).")],
    model: Annotated[str, typer.Option(help="Model spec.")],
    formats: Annotated[int, typer.Option(help="Formats sampled (the default first).")] = 8,
    limit: Annotated[int, typer.Option(help="Tuning items per format (at most).")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the format sample and the runs.")] = 0,
    data: Annotated[Path | None, typer.Option(help="Files of the dev task's release.")] = None,
    sample: Annotated[bool, typer.Option(help="Use the bundled samples.")] = False,
    test_task: Annotated[
        str | None, typer.Option(help="Also run every format on this test task and report "
                                 "min / median / max accuracy (format sensitivity).")
    ] = None,
    test_data: Annotated[Path | None, typer.Option(help="Files of the test task.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the API key.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Run file (TOML) to write with "
                                  "the best format.")
    ] = None,
) -> None:
    """Sample prompt formats, score each on dev items, and freeze the best into a run file
    (Jeong et al. 2024: compare models each at their best prompt)."""
    from medq.runner import evaluate
    from medq.store import Store
    from medq.tuning import runfile_text
    from medq.tuning import tune_prompt as tune

    if formats < 1 or limit < 1:
        _fail("--formats and --limit must be at least 1")
    with Store() as store:
        result = _run_or_explain(lambda: tune(
            task, model, evaluate=lambda spec: evaluate(spec, store=store, progress=False),
            formats=formats, limit=limit, seed=seed, data=data, sample=sample,
            test_task=test_task, test_data=test_data, base_url=base_url,
            api_key_env=api_key_env))
    for score in result.scores:
        mark = "*" if score is result.best else " "
        test = "" if score.test_accuracy is None else f"  test {_pct(score.test_accuracy)}%"
        typer.echo(f"{mark} {_pct(score.accuracy)}% (n={score.n}, invalid {score.invalid})"
                   f"{test}  {score.strategy}")
    spread = result.spread
    typer.echo(f"tuning accuracy across formats: min {_pct(spread['min'])}%, median "
               f"{_pct(spread['median'])}%, max {_pct(spread['max'])}%")
    if result.test_spread:
        t = result.test_spread
        typer.echo(f"format sensitivity on {test_task}: min {_pct(t['min'])}%, median "
                   f"{_pct(t['median'])}%, max {_pct(t['max'])}%; the tuned format: "
                   f"{_pct(result.best.test_accuracy)}%")
    if output is not None:
        from medq._atomic import atomic_write_text

        atomic_write_text(output, runfile_text(result, task=test_task or task, model=model,
                                        seed=seed, base_url=base_url))
        typer.echo(f"best format written to {output} (run it with `medq eval --config "
                   f"{output}`)")


@app.command("probes")
def probes_() -> None:
    """List the robustness probes with their parameters and paper."""
    import importlib

    from rich.table import Table

    from medq.probes import probe_parameters
    from medq.probes import probes as registry

    table = Table()
    for column in ("probe", "parameters", "paper"):
        table.add_column(column)
    for name in registry.names():
        module = importlib.import_module(registry.get(name).__module__)
        doc = (module.__doc__ or "").strip().split("\n\n")
        params = ", ".join(f"{p.name}={p.default}" if not p.required else f"{p.name} (required)"
                           for p in probe_parameters(name))
        table.add_row(name, params, " ".join(doc[1].split()) if len(doc) > 1 else "")
    _print(table)


@app.command()
def probe(
    task: Annotated[str | None, typer.Option(help="Task name (multiple choice).")] = None,
    model: Annotated[str | None, typer.Option(help="Model spec.")] = None,
    probes: Annotated[
        list[str] | None,
        typer.Option(help="Probes, comma-separated or repeated, e.g. "
                     "permute:mode=cyclic,bias:kind=false_consensus,nota,mask:stem=1.0"),
    ] = None,
    strategy: Annotated[str, typer.Option(help="Strategy spec.")] = "direct",
    data: Annotated[Path | None, typer.Option(help="Files of the original release.")] = None,
    sample: Annotated[bool, typer.Option(help="Use the bundled sample of the task.")] = False,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the probes, the model and the "
                                      "bootstrap.")] = 0,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the API key.")
    ] = None,
    concurrency: Annotated[str, typer.Option(help=CONCURRENCY_HELP)] = "32",
    max_concurrency: Annotated[int, typer.Option(help=MAX_CONCURRENCY_HELP)] = 64,
    clean: Annotated[
        str | None, typer.Option(help="Compare stored runs instead: the clean run ...")
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option(help="... and each run to pair with it (repeatable).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Paired bootstrap resamples.")] = 10_000,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json or markdown.")
    ] = "text",
) -> None:
    """Run the clean run and one run per probe (finished runs are reused, interrupted
    ones resumed) and print one robustness table: each probe paired with the clean run
    by original item (McNemar, paired bootstrap interval, Holm over the probes)."""
    from medq.probes import probe_suite, render_robustness, robustness, split_probes
    from medq.runner import EvalSpec
    from medq.store import Store

    if output_format not in {"text", "json", "markdown"}:
        _fail(f"--format must be text, json or markdown, not {output_format!r}")
    if clean is not None:
        if not run:
            _fail("--clean RUN needs at least one --run RUN to pair with it")
        with Store(readonly=True) as store:
            result = _run_or_explain(lambda: robustness(store, clean, run or [], seed=seed,
                                                        n_resamples=resamples))
        typer.echo(for_terminal(render_robustness(result, output_format), sys.stdout))
        return
    with Store() as store:
        if task is None or model is None or not probes:
            _fail("--task, --model and --probes are required (or --clean RUN --run RUN)")
        spec = EvalSpec(task=str(task), model=str(model), strategy=strategy,
                        data=str(data) if data else None, sample=sample, limit=limit,
                        seed=seed, base_url=base_url, api_key_env=api_key_env)
        clean_result, probed = _run_or_explain(lambda: probe_suite(
            spec, split_probes(probes or []), store=store, concurrency=concurrency,
            max_concurrency=max_concurrency,
            on_start=lambda run_id: _echo(f"run {run_id}", err=True)))
        if (probed[-1] if probed else clean_result).interrupted:
            _echo("interrupted: run the same command again to resume.", err=True)
            raise typer.Exit(130)
        result = _run_or_explain(lambda: robustness(
            store, clean_result.run_id, [r.run_id for r in probed], seed=seed,
            n_resamples=resamples))
    typer.echo(for_terminal(render_robustness(result, output_format), sys.stdout))


glianorex_app = typer.Typer(help="Glianorex: a fictional-organ control set you generate.",
                            no_args_is_help=True, context_settings=HELP)
app.add_typer(glianorex_app, name="glianorex")


@glianorex_app.command("generate")
def glianorex_generate(
    model: Annotated[str, typer.Option(help="Generator model spec, e.g. openai/gpt-4o.")],
    books: Annotated[Path, typer.Option(help="The Glianorex textbooks (a file or folder).")],
    out: Annotated[Path, typer.Option(help="Where to write the question set (JSONL).")],
    seed: Annotated[int, typer.Option(help="Seed of the requests and of the balancing.")] = 0,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Environment variable with the API key.")
    ] = None,
    concurrency: Annotated[str, typer.Option(help=CONCURRENCY_HELP)] = "8",
    max_concurrency: Annotated[int, typer.Option(help=MAX_CONCURRENCY_HELP)] = 64,
    limit: Annotated[int | None, typer.Option(help="Only the first N sections.")] = None,
) -> None:
    """Write a private question set, one question per textbook section; malformed
    generations are dropped and counted, gold letters balanced. Evaluate it with
    `medq eval --task glianorex --data OUT`. Generating again makes no new calls."""
    from medq.tasks.glianorex import generate

    report = _run_or_explain(lambda: generate(
        model, books, out, seed=seed, base_url=base_url, api_key_env=api_key_env,
        concurrency=concurrency, max_concurrency=max_concurrency, limit=limit))
    dropped = ", ".join(f"{n} {why}" for why, n in sorted(report.dropped.items())) or "none"
    gold = ", ".join(f"{k} {n}" for k, n in report.gold.items())
    _echo(f"{report.written} questions from {report.sections} sections written to "
               f"{report.path} (dropped: {dropped}; gold letters: {gold}; new model calls: "
               f"{report.new_calls})")
    _echo(f"evaluate with: medq eval --task glianorex --data {report.path} --model M")


judge_app = typer.Typer(help="LLM judges: their agreement with physicians.",
                        no_args_is_help=True, context_settings=HELP)
app.add_typer(judge_app, name="judge")


def _live_judges(judge: list[str], base_url: str | None, api_key_env: str | None) -> list:
    """(spec, live model) for each --judge."""
    from medq.models import load_model

    return [(spec, _run_or_explain(lambda spec=spec: load_model(
        spec, base_url=base_url, api_key_env=api_key_env))) for spec in judge]


async def _closing(judges: list, work: Any) -> Any:
    try:
        return await work
    finally:
        for _, model in judges:
            await model.aclose()


@judge_app.command("meta")
def judge_meta(
    data: Annotated[Path, typer.Option(help="Physician labels in HealthBench's meta-eval "
                                            "format (2025-05-07-06-14-12_oss_meta_eval.jsonl).")],
    judge: Annotated[list[str], typer.Option(help="Judge model; repeat for a jury.")],
    judge_base_url: Annotated[str | None, typer.Option(help="The judges' server URL.")] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="The judges' API key variable.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N rows.")] = None,
    concurrency: Annotated[str, typer.Option(help=CONCURRENCY_HELP)] = "16",
    max_concurrency: Annotated[int, typer.Option(help=MAX_CONCURRENCY_HELP)] = 64,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Score a judge against physicians' labels: macro-F1 and Cohen's kappa over (judge,
    physician) pairs, per category too. Saved, so judged runs show it beside their score."""
    import asyncio
    from dataclasses import asdict

    from medq.judge.meta import meta_evaluate, read_meta, save_meta
    from medq.store import Store

    rows = _run_or_explain(lambda: read_meta(data))[:limit]
    judges = _live_judges(judge, judge_base_url, judge_api_key_env)
    with Store() as store:
        result = _run_or_explain(lambda: asyncio.run(_closing(judges, meta_evaluate(
            rows, judges, store, concurrency=concurrency, max_concurrency=max_concurrency,
            source=str(data)))))
        save_meta(result, store)
        where = store.path
    if output_format == "json":
        typer.echo(json.dumps(asdict(result), indent=2))
        return
    o = result.overall
    _echo(f"judge {' + '.join(result.judges)} on {result.judged} of {result.rows} rows "
          f"({result.ungraded} ungraded; {o['pairs']} judge–physician pairs): macro-F1 "
          f"{_num(o['macro_f1'])}, κ {_num(o['kappa'])}, F1 met {_num(o['f1_pos'])}, "
          f"F1 not met {_num(o['f1_neg'])}  (new calls: {result.new_calls}; kept in {where}, "
          f"shown beside every score these judges give under this prompt)")
    for category, m in result.by_category.items():
        _echo(f"  {category}: macro-F1 {_num(m['macro_f1'])}, κ {_num(m['kappa'])} "
              f"({m['pairs']} pairs)")


@app.command("audit-extraction")
def audit_extraction_command(
    run: Annotated[str, typer.Argument(help="Run ID, unique prefix, or 'last'.")],
    judge: Annotated[list[str], typer.Option(help="Judge model; repeat for a jury.")],
    judge_base_url: Annotated[str | None, typer.Option(help="The judges' server URL.")] = None,
    judge_api_key_env: Annotated[
        str | None, typer.Option(help="The judges' API key variable.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    concurrency: Annotated[str, typer.Option(help=CONCURRENCY_HELP)] = "16",
    max_concurrency: Annotated[int, typer.Option(help=MAX_CONCURRENCY_HELP)] = 64,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Ask a judge which option each response of a multiple-choice run chose; report its
    agreement with medq's extractor and every disagreement. The run's score is unchanged."""
    import asyncio
    from dataclasses import asdict

    from medq.judge.audit import audit_extraction
    from medq.store import Store

    judges = _live_judges(judge, judge_base_url, judge_api_key_env)
    with Store() as store:
        audit = _run_or_explain(lambda: asyncio.run(_closing(judges, audit_extraction(
            run, store, judges, limit=limit, concurrency=concurrency,
            max_concurrency=max_concurrency))))
    if output_format == "json":
        typer.echo(json.dumps({**asdict(audit), "agreement": audit.agreement}, indent=2))
        return
    _echo(f"{audit.run_id}: medq's extractor and the judge agree on {audit.agreed} of "
          f"{audit.judged} responses ({_pct(audit.agreement)}%; κ {_num(audit.kappa)}); "
          f"{audit.ungraded} ungraded by the judge; new judge calls: {audit.new_calls}")
    for d in audit.disagreements:
        _echo(f"  {d.item_id} #{d.response}: medq {d.medq}, judge {d.judge} — "
              f"…{d.excerpt[-160:]}")


corpus_app = typer.Typer(help="Corpora for retrieval-augmented strategies.", no_args_is_help=True,
                         context_settings=HELP)
index_app = typer.Typer(help="Retrieval indexes over corpora.", no_args_is_help=True,
                        context_settings=HELP)
app.add_typer(corpus_app, name="corpus")
app.add_typer(index_app, name="index")
app.add_typer(sweep_app, name="sweep")


@corpus_app.command("add")
def corpus_add(
    name: Annotated[str, typer.Argument(help="Name to store the corpus under.")],
    path: Annotated[
        Path | None, typer.Argument(help="MedRAG JSONL, JSON, .txt/.md, or a folder.")
    ] = None,
    hub: Annotated[
        str | None,
        typer.Option(help="A MedRAG corpus from the Hub: textbooks, statpearls, pubmed, "
                     "wikipedia (or a repository ID)."),
    ] = None,
    revision: Annotated[str | None, typer.Option(help="Hub commit to pin (--hub).")] = None,
    chunk_words: Annotated[
        int, typer.Option(min=1, help="Words per chunk of text files.")] = 128,
    overlap_words: Annotated[
        int, typer.Option(min=0, help="Words shared by adjacent chunks.")] = 32,
    replace: Annotated[bool, typer.Option(help="Replace a corpus of that name.")] = False,
) -> None:
    """Add a corpus of snippets (MedRAG's id/title/content) or chunked documents."""
    if (path is None) == (hub is None):
        _fail("give either PATH or --hub CORPUS")
    if hub is not None:
        from medq.retrieval.hub_corpora import add_medrag_corpus

        corpus = _run_or_explain(
            lambda: add_medrag_corpus(name, hub, revision=revision, replace=replace))
    else:
        from medq.retrieval import add_corpus

        corpus = _run_or_explain(lambda: add_corpus(
            name, path, chunk_words=chunk_words, overlap_words=overlap_words,
            replace=replace))
    _echo(f"corpus {corpus.name}: {len(corpus)} snippets in {corpus.path}")


@corpus_app.command("list")
def corpus_list() -> None:
    """List stored corpora with their sizes and indexes."""
    from rich.table import Table

    from medq.retrieval import list_corpora

    table = Table()
    for column in ("corpus", "snippets", "indexes", "source"):
        table.add_column(column)
    for info in list_corpora():
        table.add_row(cell(info["name"]), str(info["n_snippets"]),
                      cell(", ".join(info["indexes"])), cell(info["source"]))
    _print(table)


def _executor_option(executor: str | None, address: str | None) -> None:
    if executor not in (None, "local", "ray"):
        _fail(f"--executor must be local or ray, not {executor!r}")
    if address is not None and executor != "ray":
        _fail("--address is for --executor ray")


@index_app.command("build")
def index_build(
    corpus: Annotated[str, typer.Argument(help="Corpus name (see `medq corpus list`).")],
    retriever: Annotated[
        str, typer.Option(help="bm25, dense (MiniLM) or dense:MODEL (e.g. dense:medcpt).")
    ] = "bm25",
    chunk_size: Annotated[
        int, typer.Option(min=1, help="dense: snippets per saved chunk.")] = 4096,
    memory_gb: Annotated[float, typer.Option(
        min=0.01, help="bm25: working memory of the build, at any corpus size.")] = 8.0,
    workers: Annotated[int, typer.Option(
        min=1, help="bm25: shards built at once (1: in this process); the index is the "
                    "same bytes either way.")] = 1,
    executor: Annotated[str, typer.Option(
        help="bm25: where the shards run: local (a process pool) or ray.")] = "local",
    address: Annotated[str | None, typer.Option(
        help="bm25: Ray cluster to join, e.g. ray://head:10001 (default: a local Ray).")
    ] = None,
) -> None:
    """Build (or rebuild) an index; an interrupted dense build resumes where it stopped."""
    import time

    from medq.progress import Progress
    from medq.retrieval import build_bm25, open_corpus

    _executor_option(executor, address)
    c = _run_or_explain(lambda: open_corpus(corpus))
    name, _, model = retriever.partition(":")
    start = time.perf_counter()
    with Progress(len(c), f"{corpus} · {retriever}", unit="snippets") as bar:
        if name == "bm25" and not model:
            _run_or_explain(lambda: build_bm25(
                c, progress=bar.update, memory_gb=memory_gb, executor=executor,
                workers=workers, address=address))
        elif name == "dense":
            from medq.retrieval.dense import DenseIndex, load_encoder

            encoder = load_encoder(model) if model else load_encoder()
            _run_or_explain(lambda: DenseIndex.build(
                c, encoder, chunk_size=chunk_size, progress=bar.update))
        else:
            _fail(f"--retriever must be bm25, dense or dense:MODEL, not {retriever!r}")
    _echo(f"{retriever} index of {corpus} ({len(c)} snippets) built in "
          f"{time.perf_counter() - start:.1f} s")


@index_app.command("embed")
def index_embed(
    corpus: Annotated[str, typer.Argument(help="Corpus name (see `medq corpus list`).")],
    encoder: Annotated[str, typer.Option(
        help="all-MiniLM-L6-v2, a model name or folder, medcpt, or QUERY|DOC (the document "
             "side embeds).")] = "all-MiniLM-L6-v2",
    shards: Annotated[int | None, typer.Option(
        min=1, help="Shards of consecutive rows (default: one per 100,000 snippets); the "
                    "same number finds the same files.")] = None,
    executor: Annotated[str, typer.Option(
        help="local (a process pool) or ray (Ray Data, an encoder actor pool).")] = "local",
    workers: Annotated[int | None, typer.Option(
        min=1, help="Processes (local) or encoder actors (ray); default: the CPUs (1 on a "
                    "GPU).")] = None,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster to join, e.g. ray://head:10001 (default: a local Ray).")] = None,
    device: Annotated[str | None, typer.Option(help="torch device: cpu, cuda, ...")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per forward pass.")] = 64,
    gpus_per_worker: Annotated[float, typer.Option(
        min=0, help="ray: GPUs each encoder actor asks for.")] = 0.0,
    max_length: Annotated[int | None, typer.Option(
        min=1, help="Tokens kept per snippet (default: the model's).")] = None,
    pooling: Annotated[str | None, typer.Option(
        help="model (its own), mean, cls or max (default: the model's).")] = None,
    revision: Annotated[str | None, typer.Option(help="Hub commit of the model.")] = None,
) -> None:
    """Embed a corpus into one file per shard, named by the encoder's key; shards already
    there are skipped, so the same command resumes after a kill."""
    from medq.retrieval import open_corpus
    from medq.retrieval.dense import load_encoder
    from medq.retrieval.embed import embed_corpus

    _executor_option(executor, address)
    c = _run_or_explain(lambda: open_corpus(corpus))
    pair = _run_or_explain(lambda: load_encoder(
        encoder, max_length=max_length, pooling=pooling, revision=revision))
    if workers is None and executor == "local" and (device or "").startswith("cuda"):
        workers = 1
    report = _run_or_explain(lambda: embed_corpus(
        c, pair.document, shards=shards, executor=executor, workers=workers, address=address,
        batch_size=batch_size, device=device, gpus_per_worker=gpus_per_worker))
    vectors = report.vectors
    _echo(f"{corpus}: {len(report.encoded)} shards embedded, {report.skipped} already there, "
          f"of {len(vectors.shards)} ({vectors.n} snippets x {vectors.dim}) in "
          f"{report.seconds:.1f} s; key {vectors.key} in {vectors.folder}")
    _echo(f"next: medq index build-faiss {corpus} --encoder '{encoder}'")


@index_app.command("build-faiss")
def index_build_faiss(
    corpus: Annotated[str, typer.Argument(help="Corpus name (see `medq corpus list`).")],
    encoder: Annotated[str, typer.Option(
        help="The --encoder given to `medq index embed`.")] = "all-MiniLM-L6-v2",
    kind: Annotated[str, typer.Option(
        help="auto (flat up to 200,000 snippets, hnsw above), flat, ivf or hnsw.")] = "auto",
    nlist: Annotated[int | None, typer.Option(
        min=1, help="ivf: lists (default: the power of two nearest 4*sqrt(N)).")] = None,
    nprobe: Annotated[int | None, typer.Option(
        min=1, help="ivf: lists searched per query (default: min(nlist, 64)).")] = None,
    pq: Annotated[int, typer.Option(
        min=0, help="ivf: bytes of a product-quantised code per vector (0: full vectors).")
    ] = 0,
    train_size: Annotated[int | None, typer.Option(
        min=1, help="ivf: training sample rows (default: 64 per list).")] = None,
    hnsw_m: Annotated[int, typer.Option(min=2, help="hnsw: links per node.")] = 32,
    max_length: Annotated[int | None, typer.Option(
        min=1, help="As given to `medq index embed`.")] = None,
    pooling: Annotated[str | None, typer.Option(help="As given to `medq index embed`.")] = None,
    revision: Annotated[str | None, typer.Option(help="As given to `medq index embed`.")] = None,
) -> None:
    """Build the faiss index the dense retriever reads from `medq index embed`'s files,
    streamed (IVF trains on a sample; vectors are added in batches)."""
    import time

    from medq.retrieval import open_corpus
    from medq.retrieval.dense import encoder_meta, load_encoder
    from medq.retrieval.embed import EmbeddingSet, vectors_key
    from medq.retrieval.faiss_build import KINDS, build_faiss

    if kind not in KINDS:
        _fail(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    c = _run_or_explain(lambda: open_corpus(corpus))
    pair = _run_or_explain(lambda: load_encoder(
        encoder, max_length=max_length, pooling=pooling, revision=revision))
    key, _ = _run_or_explain(lambda: vectors_key(pair.document))
    vectors = _run_or_explain(lambda: EmbeddingSet.load(c.index_dir("embeddings"), key))
    if vectors.corpus_fingerprint != c.fingerprint:
        _fail(f"the embeddings of {corpus!r} are older than the corpus; run `medq index "
              "embed` again")
    start = time.perf_counter()
    directory = c.index_dir(f"dense-{pair.slug}")
    meta = _run_or_explain(lambda: build_faiss(
        vectors, directory, kind=kind, nlist=nlist, nprobe=nprobe, pq=pq,
        train_size=train_size, hnsw_m=hnsw_m, meta=encoder_meta(pair)))
    _echo(f"{meta['kind']} index of {corpus} ({meta['n']} vectors x {meta['dim']}) built in "
          f"{time.perf_counter() - start:.1f} s in {directory}; search it with "
          f"--retriever 'dense:{encoder}'")


@app.command()
def search(
    corpus: Annotated[str, typer.Argument(help="Corpus name(s), joined with '+'.")],
    query: Annotated[str, typer.Argument(help="The search query.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Passages to return.")] = 10,
    retriever: Annotated[
        str, typer.Option(help="bm25, dense:MODEL, or several joined with '+' (RRF).")
    ] = "bm25",
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Search a corpus and print the best passages."""
    from medq.retrieval import open_retriever

    if output_format not in {"text", "json"}:
        _fail(f"--format must be text or json, not {output_format!r}")
    found = _run_or_explain(lambda: open_retriever(corpus, retriever).search(query, k))
    if output_format == "json":
        typer.echo(for_terminal(json.dumps(
            [{"id": p.id, "corpus": p.corpus, "title": p.title, "score": p.score,
              "content": p.content} for p in found], indent=2, ensure_ascii=False),
            sys.stdout))
        return
    for rank, p in enumerate(found, start=1):
        head = printable(f"[{p.corpus}:{p.id}] {p.score:.3f}  {p.title}", one_line=True)
        typer.echo(f"{rank:>2}. {head}")
        typer.echo(f"    {printable(' '.join(p.content.split())[:200], one_line=True)}")


def _add_serve() -> None:
    from medq.serve.cli import serve_app

    app.add_typer(serve_app, name="serve")


_add_serve()


def main() -> None:
    """Console-script entry point."""
    pause_gc(console=True)  # until the command runs (`medq._cli_errors.pause_gc`)
    _app_for(sys.argv[1:])()


def _app_for(args: list[str]) -> typer.Typer:
    """`app` itself, or, when `args` start with a command's name, a copy holding only that
    command: typer builds every command's parameters before parsing, and building the 34
    others would cost ~40 ms of CPU per run (issue 19). The command parses, runs and
    fails exactly as under `app`."""
    import copy

    from typer.main import get_command_name

    if not args or args[0] in ("--help", "-h"):
        return _listing_app(app)
    if args[0].startswith("-"):
        return app
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__)) == args[0]]  # type: ignore[union-attr]
    groups = [g for g in app.registered_groups if isinstance(g.name, str) and g.name == args[0]]
    if not commands and not groups:
        return app  # an unknown name: typer's own error, with its suggestions
    one = copy.copy(app)
    one.registered_commands, one.registered_groups = commands, groups
    return one


def _listing_app(whole: typer.Typer) -> typer.Typer:
    """A copy of `whole` for its own help page, which lists the commands by name and help
    only: each command stands in without its parameters, each group without its commands
    (building them all costs ~35 ms of CPU; issue 19). The page is the same (a test
    compares them)."""
    import copy
    import inspect

    def stand_in(info: Any) -> Any:
        plain = info.callback

        def callback() -> None:  # never called: the help page exits first
            raise AssertionError("a stand-in command ran")

        callback.__name__ = callback.__qualname__ = plain.__name__
        callback.__module__, callback.__doc__ = plain.__module__, inspect.getdoc(plain)
        one = copy.copy(info)
        one.callback = callback
        return one

    def hollow(group: Any) -> Any:
        one = copy.copy(group)
        one.typer_instance = copy.copy(group.typer_instance)
        one.typer_instance.registered_commands, one.typer_instance.registered_groups = [], []
        return one

    listing = copy.copy(whole)
    listing.registered_commands = [stand_in(c) for c in whole.registered_commands]
    listing.registered_groups = [hollow(g) for g in whole.registered_groups]
    return listing


if __name__ == "__main__":
    main()
