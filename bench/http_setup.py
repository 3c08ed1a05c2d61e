"""Set-up for `bench_http_eval.py`: the tools' venvs, the fake server, the data files.

medq is built as a wheel (``pip wheel . --no-deps``) and installed into
``bench/.work/venv-medq`` as a user installs it (pip compiles its bytecode); lm-eval and
inspect-ai get their own venvs. The server is medq's `FakeOpenAIServer` (or its batch
fake) with a ``/_bench/stats`` route that counts every request by route; it runs as its own
process (``python bench/http_setup.py KIND LATENCY``) so its CPU is never the client's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
DEFAULT_DATA = Path("/work/shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl")
MEDQ_VENV = WORK / "venv-medq"
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

# -- environments -------------------------------------------------------------------------


def pip(venv: Path, *args: str) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args],
                   check=True)


def new_venv(venv: Path) -> None:
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)


def build_medq_wheel() -> Path:
    """A wheel of the working tree, as `pip wheel . --no-deps` builds it for a user."""
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([str(PROJECT_PY), "-m", "pip", "wheel", "-q", ".", "--no-deps",
                    "-w", str(dist)], check=True, cwd=ROOT)
    (wheel,) = dist.glob("medq-*.whl")
    return wheel


def ensure_medq_venv() -> dict[str, Any]:
    """Build the wheel and install it (dependencies resolved by pip) into ``venv-medq``."""
    wheel = build_medq_wheel()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if not (MEDQ_VENV / "bin" / "python").exists():
        print(f"creating {MEDQ_VENV} ...", file=sys.stderr, flush=True)
        new_venv(MEDQ_VENV)
    # --force-reinstall --no-deps replaces medq even at the same version; the second call
    # installs whatever dependencies the new wheel added (a no-op otherwise).
    pip(MEDQ_VENV, "--force-reinstall", "--no-deps", str(wheel))
    pip(MEDQ_VENV, str(wheel))
    probe = ("import importlib.metadata as m, pathlib, medq.runner as r; "
             "print(m.version('medq')); print(r.__file__); print(r.__cached__)")
    out = subprocess.run([str(MEDQ_VENV / "bin" / "python"), "-c", probe], check=True,
                         capture_output=True, text=True).stdout.split()
    compiled = Path(out[2]).exists()
    if "site-packages" not in out[1] or not compiled:
        raise SystemExit(f"medq in {MEDQ_VENV} is not a compiled wheel install ({out[1]})")
    return {"version": out[0], "wheel": wheel.name, "wheel_sha256": digest,
            "module": out[1], "bytecode_compiled": compiled, "git": git_describe()}


def ensure_peer_venv(venv: Path) -> None:
    """Create a peer's venv and install it, unless it is already there."""
    marker = venv / ".medq-bench-installed"
    if marker.exists():
        return
    print(f"creating {venv} ...", file=sys.stderr, flush=True)
    new_venv(venv)
    for packages in PEER_INSTALLS[venv]:
        pip(venv, *packages)
    marker.write_text("ok\n")


def version_of(venv: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def git_describe() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return head + ("+dirty" if dirty else "")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# -- the server: FakeOpenAIServer (or its batch fake) plus a stats route ------------------


def serve(kind: str, latency: float) -> None:
    """Run a fake server with GET /_bench/stats in this process; print its base URL.

    Kinds: ``chat`` (serves ``n`` choices when asked), ``no-n`` (ignores ``n``, one choice,
    as servers without ``n`` support do), ``batch`` (`FakeBatchServer`: the Batch API too;
    a batch completes at the second status read, so the client polls once).
    """
    import collections
    import signal

    from aiohttp import web

    from medq.testing.batch_server import FakeBatchServer
    from medq.testing.openai_server import FakeOpenAIServer

    routes: collections.Counter[str] = collections.Counter()

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/_bench"):
            resource = request.match_info.route.resource
            routes[f"{request.method} {resource.canonical if resource else request.path}"] += 1
        response: web.StreamResponse = await handler(request)
        return response

    base: type[FakeOpenAIServer] = FakeBatchServer if kind == "batch" else FakeOpenAIServer

    class CountingServer(base):  # type: ignore[valid-type,misc]
        def app(self) -> web.Application:
            app = super().app()
            app.middlewares.append(count)
            app.router.add_get("/_bench/stats", self._stats)
            return app

        def _completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
            if kind == "no-n":
                body = {k: v for k, v in body.items() if k != "n"}
            result: dict[str, Any] = super()._completion(body)
            return result

        async def _stats(self, request: web.Request) -> web.Response:
            chat = [r for r in self.requests if r.path.endswith("/chat/completions")]
            return web.json_response({
                "chat": len(chat),
                "chat_with_n": sum(1 for r in chat if int(r.body.get("n") or 1) > 1),
                "batch_lines": sum(1 for r in self.requests if r.path.endswith("(batch)")),
                "http": sum(routes.values()),
                "routes": dict(routes),
                "cpu_s": time.process_time(),
            })

    server = CountingServer(latency=latency, **({"polls_to_complete": 1}
                                                 if kind == "batch" else {}))

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

    def __init__(self, latency: float, kind: str = "chat") -> None:
        self.latency = latency
        self.proc = subprocess.Popen(
            [str(MEDQ_VENV / "bin" / "python"), str(Path(__file__)), kind, str(latency)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"server did not start (printed {self.base_url!r})")
        self.root = self.base_url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/_bench/stats", timeout=10) as response:
            stats: dict[str, Any] = json.load(response)
            return stats

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- data and peer configuration ----------------------------------------------------------


def write_items(source: Path, n: int) -> Path:
    """`n` MedQA rows (original format); past the file's end, suffixed copies."""
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    path = WORK / f"medqa-{n}.jsonl"
    with path.open("w") as f:
        for i in range(n):
            row, copy = dict(rows[i % len(rows)]), i // len(rows)
            if copy:
                row["question"] = f"{row['question']} (copy {copy})"
            f.write(json.dumps(row) + "\n")
    return path


def write_flat(raw: Path) -> Path:
    """The same questions flat (id, question, A-D, answer), as both peers read them."""
    flat = raw.with_name(raw.stem + "-flat.jsonl")
    with raw.open() as source, flat.open("w") as f:
        for i, line in enumerate(source):
            row = json.loads(line)
            record = {"id": f"medqa-{i}", "question": row["question"], "answer": row["answer_idx"]}
            record.update({k: row["options"][k] for k in LETTERS})
            f.write(json.dumps(record) + "\n")
    return flat


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


if __name__ == "__main__":
    serve(sys.argv[1], float(sys.argv[2]))
