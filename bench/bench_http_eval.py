"""Core-engine performance: medq against lm-eval and inspect-ai on one loopback server.

Every tool evaluates the same 1,273 MedQA (US, 4-option) questions, one direct prompt per
question, 32 requests in flight, against `medq.testing.openai_server` on 127.0.0.1. For each
tool and server latency we record the client's whole-process CPU seconds (user + sys from
``os.wait4``, so the server, which is a separate process, never counts) and wall seconds,
plus the number of chat requests the server received. A bare aiohttp loop (the same number
of POSTs behind a semaphore) is the floor. Startup is the median wall time of five
``--help`` runs after one warm-up.

Usage::

    .venv/bin/python bench/bench_http_eval.py              # everything (~5 minutes)
    .venv/bin/python bench/bench_http_eval.py --skip-peers # medq + bare loop only

Peers live in their own virtual environments under ``bench/.work/`` and are created on
first use. Results go to ``bench/.work/http_eval.json``; a markdown table goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
MEDQ = ROOT / ".venv" / "bin" / "medq"
DEFAULT_DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")
LMEVAL_VENV = WORK / "venv-lmeval"
INSPECT_VENV = WORK / "venv-inspect"
LETTERS = "ABCD"
MODEL = "bench-model"

# What each peer venv gets. torch first, pinned, so pip takes the CPU build on disk rather
# than resolving a CUDA one for lm-eval.
PEER_INSTALLS: dict[Path, list[list[str]]] = {
    LMEVAL_VENV: [["torch==2.13.0"], ["lm-eval[api]"]],
    INSPECT_VENV: [["inspect-ai", "openai"]],
}

TARGET_CPU_S = 2.5
TARGET_WALL_SLACK = 0.20
TARGET_HELP_S = 0.3


@dataclass
class Measurement:
    """One subprocess run: its CPU (user + sys, from wait4) and wall seconds."""

    tool: str
    kind: str  # "eval" or "help"
    command: list[str]
    latency: float | None = None
    rc: int = 0
    user_s: float = 0.0
    sys_s: float = 0.0
    wall_s: float = 0.0
    requests: int | None = None
    ideal_wall_s: float | None = None
    server_cpu_s: float | None = None
    repeats: list[dict[str, float]] = field(default_factory=list)
    note: str = ""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


# -- the server: FakeOpenAIServer plus a stats route, in its own process ---------------------


def serve(latency: float) -> None:
    """Run medq's fake OpenAI server with GET /_bench/stats; print its base URL."""
    import signal

    from aiohttp import web

    from medq.testing.openai_server import FakeOpenAIServer

    class CountingServer(FakeOpenAIServer):
        def app(self) -> web.Application:
            app = super().app()
            app.router.add_get("/_bench/stats", self._stats)
            return app

        async def _stats(self, request: web.Request) -> web.Response:
            chat = sum(1 for r in self.requests if r.path.endswith("/chat/completions"))
            return web.json_response(
                {"chat": chat, "total": len(self.requests), "cpu_s": time.process_time()}
            )

    server = CountingServer(latency=latency)

    async def run() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        async with server:
            print(server.base_url, flush=True)
            await done.wait()

    asyncio.run(run())


class Server:
    """A server subprocess for one measurement (fresh state, fresh connections)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.proc = subprocess.Popen(
            [str(PROJECT_PY), __file__, "--serve", "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"server did not start (printed {self.base_url!r})")
        self.root = self.base_url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/_bench/stats", timeout=10) as response:
            return json.load(response)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- the floor: a bare aiohttp loop -----------------------------------------------------------


def bare_loop(base_url: str, data: Path, concurrency: int) -> None:
    """POST one chat request per question, `concurrency` in flight; print how many answered."""
    import aiohttp

    questions = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]

    async def main() -> int:
        semaphore = asyncio.Semaphore(concurrency)
        url = f"{base_url}/chat/completions"
        headers = {"Authorization": "Bearer dummy"}

        async with aiohttp.ClientSession() as session:

            async def ask(q: Mapping[str, Any]) -> str:
                prompt = (
                    q["question"]
                    + "".join(f"\n{k}. {v}" for k, v in q["options"].items())
                    + "\nAnswer:"
                )
                body = {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": prompt}],
                    "temperature": 0,
                    "max_tokens": 16,
                }
                async with semaphore, session.post(url, json=body, headers=headers) as r:
                    r.raise_for_status()
                    return (await r.json())["choices"][0]["message"]["content"]

            answers = await asyncio.gather(*(ask(q) for q in questions))
        return len(answers)

    print(f"answered {asyncio.run(main())}")


# -- data and peer configuration --------------------------------------------------------------


def prepare_data(source: Path, limit: int | None) -> tuple[Path, int]:
    """The questions as a flat JSONL (id, question, A-D, answer) that both peers read."""
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    if limit is not None:
        rows = rows[:limit]
    suffix = "" if limit is None else f"-{limit}"
    flat = WORK / f"medqa_4opt{suffix}.jsonl"
    raw = WORK / f"medqa_raw{suffix}.jsonl"
    with flat.open("w") as f:
        for i, row in enumerate(rows):
            record = {"id": f"medqa-{i}", "question": row["question"], "answer": row["answer_idx"]}
            record.update({k: row["options"][k] for k in LETTERS})
            f.write(json.dumps(record) + "\n")
    with raw.open("w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    return flat, len(rows)


def write_lmeval_task(data: Path) -> Path:
    """A local generate_until task (lm-eval's own medqa task downloads from a hub)."""
    folder = WORK / "lmeval_tasks"
    folder.mkdir(exist_ok=True)
    (folder / "medq_bench_medqa.yaml").write_text(
        f"""task: medq_bench_medqa
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}\\nA. {{{{A}}}}\\nB. {{{{B}}}}\\nC. {{{{C}}}}\\nD. {{{{D}}}}\\n\\
  Answer:"
doc_to_target: answer
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 16
  do_sample: false
  temperature: 0
filter_list:
  - name: get-answer
    filter:
      - function: regex
        regex_pattern: "\\\\b([ABCD])\\\\b"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""
    )
    return folder


def write_inspect_task(data: Path) -> Path:
    """A task file: json dataset, multiple_choice() solver, choice() scorer."""
    path = WORK / "inspect_medqa.py"
    path.write_text(
        f"""from inspect_ai import Task, task
from inspect_ai.dataset import Sample, json_dataset
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice


def record_to_sample(record):
    return Sample(
        id=record["id"],
        input=record["question"],
        choices=[record[k] for k in "ABCD"],
        target=record["answer"],
    )


@task
def medqa_bench():
    return Task(
        dataset=json_dataset({str(data)!r}, record_to_sample),
        solver=multiple_choice(),
        scorer=choice(),
    )
"""
    )
    return path


def ensure_venv(venv: Path) -> None:
    """Create a peer's venv and install it, unless it is already there."""
    marker = venv / ".medq-bench-installed"
    if marker.exists():
        return
    print(f"creating {venv} ...", file=sys.stderr, flush=True)
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    for packages in PEER_INSTALLS[venv]:
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)
    marker.write_text("ok\n")


def version_of(venv: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


# -- measuring a subprocess ------------------------------------------------------------------


def run_measured(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float, log: Path
) -> tuple[int, float, float, float]:
    """Run `command`; return (exit code, user s, sys s, wall s) of that process tree.

    ``os.wait4`` gives the rusage of exactly this child (with its own waited-for children),
    so nothing else this script or the server does is counted.
    """
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime, usage.ru_stime, wall


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "MEDQ_", "HF_", "INSPECT_", "BENCH_"))
    }
    env.update(
        OPENAI_API_KEY="dummy",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Config:
    source: Path
    flat: Path
    raw: Path
    n: int
    limit: int | None
    concurrency: int
    lmeval_tasks: Path | None = None
    inspect_task: Path | None = None


def medq_eval(base_url: str, scratch: Path, cfg: Config) -> tuple[list[str], dict[str, str]]:
    flags = f"--task medqa --model openai/{MODEL} --strategy direct --concurrency {cfg.concurrency}"
    command = [str(MEDQ), "eval", *flags.split(), "--data", str(cfg.source), "--base-url", base_url]
    if cfg.limit is not None:
        command += ["--limit", str(cfg.limit)]
    return command, base_env(MEDQ_HOME=str(scratch / "medq-home"))


def bare_eval(base_url: str, scratch: Path, cfg: Config) -> tuple[list[str], dict[str, str]]:
    command = [str(PROJECT_PY), __file__, "--bare-loop", base_url, "--data", str(cfg.raw)]
    return [*command, "--concurrency", str(cfg.concurrency)], base_env()


def lmeval_eval(base_url: str, scratch: Path, cfg: Config) -> tuple[list[str], dict[str, str]]:
    assert cfg.lmeval_tasks is not None
    model_args = (
        f"model={MODEL},base_url={base_url}/chat/completions,"
        f"num_concurrent={cfg.concurrency},max_retries=3,tokenized_requests=False"
    )
    flags = "--model local-chat-completions --tasks medq_bench_medqa --apply_chat_template"
    command = [str(LMEVAL_VENV / "bin" / "lm_eval"), "run", *flags.split()]
    command += ["--model_args", model_args, "--include_path", str(cfg.lmeval_tasks)]
    # HF_HOME in the scratch dir: the datasets cache starts empty every time, as medq's does.
    return command, base_env(HF_HOME=str(scratch / "hf"))


def inspect_eval(base_url: str, scratch: Path, cfg: Config) -> tuple[list[str], dict[str, str]]:
    assert cfg.inspect_task is not None
    flags = f"--model openai-api/bench/{MODEL} --max-connections {cfg.concurrency} --display none"
    # inspect globs the task path and refuses absolute patterns; the cwd is ROOT.
    task = str(cfg.inspect_task.relative_to(ROOT))
    command = [str(INSPECT_VENV / "bin" / "inspect"), "eval", task, *flags.split()]
    command += ["--log-dir", str(scratch / "logs")]
    return command, base_env(BENCH_BASE_URL=base_url, BENCH_API_KEY="dummy")


EVALS = {
    "medq": medq_eval,
    "aiohttp loop (floor)": bare_eval,
    "lm-eval": lmeval_eval,
    "inspect-ai": inspect_eval,
}

HELP_COMMANDS = {
    "medq": [[str(MEDQ), "--help"], [str(MEDQ), "eval", "--help"]],
    "lm-eval": [
        [str(LMEVAL_VENV / "bin" / "lm_eval"), "--help"],
        [str(LMEVAL_VENV / "bin" / "lm_eval"), "run", "--help"],
    ],
    "inspect-ai": [
        [str(INSPECT_VENV / "bin" / "inspect"), "--help"],
        [str(INSPECT_VENV / "bin" / "inspect"), "eval", "--help"],
    ],
}


def measure_eval(tool: str, latency: float, cfg: Config, repeats: int) -> Measurement:
    """Run `tool`'s eval `repeats` times, each on a fresh server; report the medians."""
    runs: list[Measurement] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="medq-bench-", dir=WORK) as tmp:
            scratch = Path(tmp)
            with Server(latency) as server:
                command, env = EVALS[tool](server.base_url, scratch, cfg)
                cpu_before = server.stats()["cpu_s"]
                log = WORK / f"log-{tool.split()[0]}-{latency:g}.txt"
                rc, user, sys_, wall = run_measured(command, env, ROOT, 600, log)
                stats = server.stats()
            m = Measurement(
                tool=tool,
                kind="eval",
                command=command,
                latency=latency,
                rc=rc,
                user_s=user,
                sys_s=sys_,
                wall_s=wall,
                requests=stats["chat"],
                ideal_wall_s=cfg.n * latency / cfg.concurrency,
                server_cpu_s=stats["cpu_s"] - cpu_before,
            )
            if rc != 0:
                tail = log.read_text(errors="replace")[-2000:]
                m.note = f"exit {rc}; see {log.relative_to(ROOT)}"
                print(f"{tool} failed (exit {rc}):\n{tail}", file=sys.stderr)
            print(
                f"  {tool:22} latency {latency:g}s: {m.cpu_s:6.2f} CPU-s {wall:6.2f} s wall, "
                f"{m.requests} requests, rc {rc}",
                file=sys.stderr,
                flush=True,
            )
            runs.append(m)
    chosen = runs[0]
    chosen.user_s = statistics.median(r.user_s for r in runs)
    chosen.sys_s = statistics.median(r.sys_s for r in runs)
    chosen.wall_s = statistics.median(r.wall_s for r in runs)
    chosen.server_cpu_s = statistics.median(r.server_cpu_s or 0.0 for r in runs)
    # The fewest requests any repeat made: a short run must not hide behind a full one.
    chosen.requests = min(r.requests or 0 for r in runs)
    chosen.rc = max((r.rc for r in runs), key=abs)
    chosen.note = "; ".join(r.note for r in runs if r.note)
    chosen.repeats = [
        {"cpu_s": round(r.cpu_s, 3), "wall_s": round(r.wall_s, 3), "requests": r.requests or 0}
        for r in runs
    ]
    return chosen


def measure_help(tool: str, command: list[str], times: int) -> Measurement:
    """Median wall (and CPU) of `times` runs after one untimed warm-up."""
    env = base_env()
    log = WORK / "log-help.txt"
    run_measured(command, env, ROOT, 120, log)
    samples = [run_measured(command, env, ROOT, 120, log) for _ in range(times)]
    rc = max(s[0] for s in samples)
    return Measurement(
        tool=tool,
        kind="help",
        command=command,
        rc=rc,
        user_s=statistics.median(s[1] for s in samples),
        sys_s=statistics.median(s[2] for s in samples),
        wall_s=statistics.median(s[3] for s in samples),
        repeats=[{"cpu_s": round(s[1] + s[2], 3), "wall_s": round(s[3], 3)} for s in samples],
    )


# -- reporting ---------------------------------------------------------------------------------


def markdown(evals: list[Measurement], helps: list[Measurement], n: int, help_runs: int) -> str:
    lines = [
        "| tool | server latency | requests | CPU-s | wall-s | ideal wall-s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in evals:
        ideal = "—" if not m.latency else f"{m.ideal_wall_s:.1f}"
        requests = f"{m.requests}/{n}" + ("" if m.rc == 0 else f" (exit {m.rc})")
        lines.append(
            f"| {m.tool} | {m.latency * 1000:.0f} ms | {requests} | {m.cpu_s:.2f} "
            f"| {m.wall_s:.2f} | {ideal} |"
        )
    lines += ["", f"| startup | wall-s (median of {help_runs}) | CPU-s |", "|---|---:|---:|"]
    for m in helps:
        name = " ".join([Path(m.command[0]).name, *m.command[1:]])
        lines.append(f"| `{name}` | {m.wall_s:.2f} | {m.cpu_s:.2f} |")
    return "\n".join(lines)


def target_lines(evals: list[Measurement], helps: list[Measurement], n: int, c: int) -> str:
    out = []
    for m in evals:
        if m.tool != "medq":
            continue
        if m.latency == 0:
            verdict = "ok" if m.cpu_s <= TARGET_CPU_S else "MISSED"
            out.append(
                f"- medq CPU with an instant server: {m.cpu_s:.2f} s "
                f"(target ≤ {TARGET_CPU_S}) {verdict}"
            )
        else:
            ideal = n * m.latency / c
            over = m.wall_s / ideal - 1
            verdict = "ok" if over <= TARGET_WALL_SLACK else "MISSED"
            out.append(
                f"- medq wall at {m.latency * 1000:.0f} ms: {m.wall_s:.2f} s vs ideal "
                f"{ideal:.2f} s ({over:+.0%}; target ≤ +20%) {verdict}"
            )
    for m in helps:
        if m.tool == "medq" and m.command[1:] == ["--help"]:
            verdict = "ok" if m.wall_s <= TARGET_HELP_S else "MISSED"
            out.append(f"- `medq --help`: {m.wall_s:.2f} s (target ≤ {TARGET_HELP_S}) {verdict}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-peers", action="store_true", help="medq and the bare loop only")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MedQA 4-option JSONL")
    parser.add_argument("--limit", type=int, default=None, help="first N questions (smoke test)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--latency",
        type=float,
        action="append",
        default=None,
        help="server latency in seconds (repeatable; default 0 and 0.2)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of medq and the bare loop per latency (medians reported)",
    )
    parser.add_argument("--peer-repeats", type=int, default=1, help="runs of each peer")
    parser.add_argument("--help-runs", type=int, default=5)
    parser.add_argument(
        "--tools", default=None, help="comma-separated subset of: " + ", ".join(EVALS)
    )
    parser.add_argument("--output", type=Path, default=WORK / "http_eval.json")
    # Internal: the server and the floor run as subprocesses of this same file.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare-loop", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    latencies = args.latency or [0.0, 0.2]

    if args.serve:
        serve(latencies[0])
        return
    if args.bare_loop:
        bare_loop(args.bare_loop, args.data, args.concurrency)
        return

    WORK.mkdir(parents=True, exist_ok=True)
    tools = list(EVALS) if args.tools is None else args.tools.split(",")
    if args.skip_peers:
        tools = [t for t in tools if t not in ("lm-eval", "inspect-ai")]
    unknown = set(tools) - set(EVALS)
    if unknown:
        parser.error(f"unknown tools: {sorted(unknown)}")

    flat, n = prepare_data(args.data, args.limit)
    cfg = Config(
        source=args.data,
        flat=flat,
        raw=flat.with_name(flat.name.replace("4opt", "raw")),
        n=n,
        limit=args.limit,
        concurrency=args.concurrency,
    )
    versions = {"python": platform.python_version()}
    if "lm-eval" in tools:
        ensure_venv(LMEVAL_VENV)
        versions["lm-eval"] = version_of(LMEVAL_VENV, "lm_eval")
        cfg = Config(**{**asdict(cfg), "lmeval_tasks": write_lmeval_task(flat)})
    if "inspect-ai" in tools:
        ensure_venv(INSPECT_VENV)
        versions["inspect-ai"] = version_of(INSPECT_VENV, "inspect_ai")
        versions["openai (inspect venv)"] = version_of(INSPECT_VENV, "openai")
        cfg = Config(**{**asdict(cfg), "inspect_task": write_inspect_task(flat)})
    versions["medq"] = version_of(ROOT / ".venv", "medq")
    versions["aiohttp (medq venv)"] = version_of(ROOT / ".venv", "aiohttp")

    helps: list[Measurement] = []
    if args.help_runs:
        for tool in ("medq", "lm-eval", "inspect-ai"):
            if tool in tools:
                for command in HELP_COMMANDS[tool]:
                    helps.append(measure_help(tool, command, args.help_runs))
                    print(
                        f"  {' '.join(command[-2:]):28} {helps[-1].wall_s:.2f} s",
                        file=sys.stderr,
                        flush=True,
                    )

    evals = []
    load_before = os.getloadavg()
    for latency in latencies:
        for tool in tools:
            peer = tool in ("lm-eval", "inspect-ai")
            evals.append(
                measure_eval(tool, latency, cfg, args.peer_repeats if peer else args.repeats)
            )

    table = markdown(evals, helps, n, args.help_runs)
    targets = target_lines(evals, helps, n, args.concurrency)
    print(table)
    print()
    print(targets)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before_evals": load_before,
        },
        "versions": versions,
        "questions": n,
        "concurrency": args.concurrency,
        "data": str(args.data),
        "evals": [asdict(m) | {"cpu_s": round(m.cpu_s, 3)} for m in evals],
        "startup": [asdict(m) | {"cpu_s": round(m.cpu_s, 3)} for m in helps],
        "table_markdown": table,
        "targets": targets,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
