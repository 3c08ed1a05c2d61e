"""Report performance: `build_report` over 10 runs x 4,183 items (the MedMCQA dev size).

Target (issue 3): the HTML report builds in <= 5 s and the file stays <= 10 MB.
Target (issue 19): 20 runs x 4,183 items build in <= 3 s, growing with items rather than
runs x items (``--runs 1,5,10,20`` times each run count in its own process, for peak RSS).

The workload is real text: the 4,183 MedMCQA dev questions of MIRAGE's benchmark.json and
the four released MIRAGE MedMCQA answer sets (GPT-4 and GPT-3.5, CoT and RAG; 570-860
characters per response on average), from ``../shared/data/mirage``. Ten runs are made
with medq's own engine (`evaluate` with a scripted model that replays those answers),
alternating medq's cot and direct prompts. Reasoning runs replay the released responses
(the first four sets as released, later runs another item's response with its sentences
shuffled, so no two runs share text and neither the string table nor gzip can shortcut
them); direct runs answer "The answer is (X)." as a direct prompt does. ``--all-cot``
is the stress case: all ten runs replay reasoning. Items get one of
21 MedMCQA subject names by hash (MIRAGE's copy has no subject field), so the subgroup
chart is exercised.

Usage::

    .venv/bin/python bench/bench_report.py            # build the store once, time 5 builds
    .venv/bin/python bench/bench_report.py --repeats 1
    .venv/bin/python bench/bench_report.py --runs 1,5,10,20 --repeats 3   # scaling (issue 19)
    git archive main src | tar -x -C /tmp/base     # then, main's code against this one's:
    .venv/bin/python bench/bench_report.py --runs 1,5,10,20 --repeats 3 --against /tmp/base/src

The store is cached in ``bench/.work/report_store.sqlite``; the report is written to
``bench/.work/report.html``; results go to ``bench/.work/report.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
MIRAGE = ROOT.parent / "shared" / "data" / "mirage"
SETS = ("cot__OpenAI_gpt-4-32k", "cot__OpenAI_gpt-35-turbo-16k", "rag_32__OpenAI_gpt-4-32k",
        "rag_32__OpenAI_gpt-35-turbo-16k")
SUBJECTS = ("Anatomy", "Anaesthesia", "Biochemistry", "Dental", "ENT", "Forensic Medicine",
            "Gynaecology & Obstetrics", "Medicine", "Microbiology", "Ophthalmology",
            "Orthopaedics", "Pathology", "Pediatrics", "Pharmacology", "Physiology",
            "Psychiatry", "Radiology", "Skin", "Social & Preventive Medicine", "Surgery",
            "Unknown")
N_RUNS = 10
TARGET_S, TARGET_MB = 5.0, 10.0
SCALING_TARGET_S = 3.0  # at 20 runs (issue 19)


def _questions() -> tuple:
    from medq.types import Question

    bench = json.loads((MIRAGE / "benchmark.json").read_text())["medmcqa"]
    return tuple(
        Question(item_id, row["question"], row["options"], row["answer"],
                 metadata={"subject": SUBJECTS[sum(map(ord, item_id)) % len(SUBJECTS)]})
        for item_id, row in bench.items()
    )


def _responses(name: str) -> dict[str, str]:
    with gzip.open(MIRAGE / "predictions" / f"{name}.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for line in lines]
    return {r["id"]: (r["raw_outputs"] or [""])[0] for r in rows if r["dataset"] == "medmcqa"}


def _shuffled(text: str, rng: random.Random) -> str:
    sentences = re.split(r"(?<=[.!?]) ", text)
    rng.shuffle(sentences)
    return " ".join(sentences)


def _final_answer(response: str) -> str:
    found = re.search(r'"answer_choice"\s*:\s*"([A-D])', response)
    return f"The answer is ({found.group(1) if found else 'A'})."


ALL_COT = False  # --all-cot: every run replays reasoning (the stress case)


def build_store(path: Path, start: int = 0, stop: int = N_RUNS) -> list[str]:
    """Runs `start`..`stop` through medq's engine, replaying the released answers (run k
    is the same whatever the store already holds); returns their run IDs."""
    from medq.runner import EvalSpec, evaluate
    from medq.store import Store
    from medq.testing.scripted import ScriptedModel

    questions = _register_task()
    by_stem = {}
    for q in questions:
        by_stem.setdefault(q.stem, q.id)
    answer_sets = {name: _responses(name) for name in SETS}
    ids = []
    with Store(path) as store:
        for run in range(start, stop):
            name = SETS[run % len(SETS)]
            answers = answer_sets[name]
            rng = random.Random(run)
            if run >= len(SETS):  # another item's answer, sentences shuffled
                keys = sorted(answers)
                moved = keys[:]
                rng.shuffle(moved)
                answers = {k: _shuffled(answers[m], rng) for k, m in zip(keys, moved, strict=True)}
            strategy = "cot" if run % 2 == 0 or ALL_COT else "direct"
            if strategy == "direct":  # a direct prompt gets a short answer, not reasoning
                answers = {k: _final_answer(v) for k, v in answers.items()}

            def respond(request, answers=answers) -> str:
                text = request.messages[-1].content
                stem = text.split("Question: ", 1)[1].split("\n\nOptions:", 1)[0]
                return answers.get(by_stem.get(stem, ""), "no answer")

            spec = EvalSpec(task="bench_medmcqa", model=f"replay/{name}-{run}",
                            strategy=strategy)
            model = ScriptedModel(respond, name=spec.model)
            ids.append(evaluate(spec, store=store, model=model, progress=False).run_id)
    return ids


_REGISTERED: list[tuple] = []


def _register_task() -> tuple:
    """Register the bench task (once per process); its questions."""
    if _REGISTERED:
        return _REGISTERED[0]
    from medq.registry import tasks
    from medq.tasks.base import Task

    questions = _questions()  # the report loads the task's questions, like a real one

    @tasks.register("bench_medmcqa")
    def bench_medmcqa(data: Path | None, sample: bool) -> Task:
        return Task("bench_medmcqa", questions, "MedMCQA dev via MIRAGE", "mirage", "dev")

    _REGISTERED.append(questions)
    return questions


def _store(tag: str, n_runs: int, rebuild: bool) -> tuple[Path, list[str]]:
    """The cached store with at least `n_runs` runs (extended run by run when it has
    fewer), and its run IDs in build order."""
    from medq.store import Store

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"report_store{tag}.sqlite"
    ids_file = WORK / f"report_runs{tag}.json"
    if rebuild or not path.exists() or not ids_file.exists():
        for stale in WORK.glob(f"report_store{tag}.sqlite*"):
            stale.unlink()
        ids_file.write_text("[]")
    ids = json.loads(ids_file.read_text())
    if len(ids) < n_runs:
        started = time.perf_counter()
        ids += build_store(path, len(ids), n_runs)
        ids_file.write_text(json.dumps(ids))
        print(f"store extended to {len(ids)} runs in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    with Store(path):  # migrated before any timing
        pass
    return path, ids


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _time_builds(path: Path, ids: list[str], repeats: int) -> tuple[list[float], list[float], str]:
    from medq.report import build_report
    from medq.store import Store

    timings, cpu, html = [], [], ""
    with Store(path) as store:
        for _ in range(repeats):
            started, cpu_started = time.perf_counter(), time.process_time()
            html = build_report(store, ids, progress=False)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    return timings, cpu, html


def _child(path: Path, ids: list[str], repeats: int) -> None:
    """One run count in a fresh process: prints one JSON line (wall, CPU, peak RSS)."""
    _register_task()
    rss_before = _peak_rss_mb()
    timings, cpu, html = _time_builds(path, ids, repeats)
    print(json.dumps({
        "runs": len(ids), "build_s_median": statistics.median(timings),
        "build_s_all": timings, "build_cpu_s_median": statistics.median(cpu),
        "peak_rss_mb": _peak_rss_mb(), "rss_before_build_mb": rss_before,
        "html_mb": len(html.encode()) / 1e6, "load_average": os.getloadavg(),
    }))


def _scaling(tag: str, counts: list[int], repeats: int, against: Path | None) -> None:
    """Each run count built `repeats` times, each build in a fresh process (so each has its
    own peak RSS, and pays the imports a `medq report` pays); with `against` (another
    checkout's ``src``), that code's builds alternate with this one's, under the same load."""
    import subprocess

    variants: list[tuple[str, dict[str, str]]] = [("this", dict(os.environ))]
    if against is not None:
        variants.insert(0, ("against", {**os.environ, "PYTHONPATH": str(against)}))
    rows: dict[tuple[str, int], list[dict]] = {}
    for n in counts:
        for _ in range(repeats):
            for name, env in variants:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(n), "--repeats", "1"]
                    + (["--all-cot"] if ALL_COT else []),
                    check=True, capture_output=True, text=True, env=env).stdout
                rows.setdefault((name, n), []).append(json.loads(out.strip().splitlines()[-1]))
        print(f"{n} runs: " + ", ".join(
            f"{name} {statistics.median(r['build_s_median'] for r in rows[name, n]):.2f} s"
            for name, _ in variants), file=sys.stderr)
    table = []
    for n in counts:
        for name, _ in variants:
            found = rows[name, n]
            table.append({
                "code": name, "runs": n,
                "build_s_median": statistics.median(r["build_s_median"] for r in found),
                "build_s_all": [r["build_s_median"] for r in found],
                "build_cpu_s_median": statistics.median(r["build_cpu_s_median"] for r in found),
                "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in found),
                "html_mb": found[-1]["html_mb"],
                "load_average": [r["load_average"][0] for r in found],
            })
    items = len(json.loads((MIRAGE / "benchmark.json").read_text())["medmcqa"])
    result = {"items_per_run": items, "repeats": repeats,
              "against": None if against is None else str(against), "rows": table,
              "target_s_at_20": SCALING_TARGET_S}
    (WORK / f"report_scaling{tag}.json").write_text(json.dumps(result, indent=2))
    print(f"| code | runs × items | build wall s (median of {repeats}) | CPU s | peak RSS MB "
          "| HTML MB | load average |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in table:
        load = r["load_average"]
        print(f"| {r['code']} | {r['runs']} × {items:,} | {r['build_s_median']:.2f} | "
              f"{r['build_cpu_s_median']:.2f} | {r['peak_rss_mb']:.0f} | {r['html_mb']:.2f} | "
              f"{min(load):.1f}–{max(load):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached store")
    parser.add_argument("--all-cot", action="store_true",
                        help="stress case: all runs replay reasoning "
                             "(default: alternately cot and direct)")
    parser.add_argument("--runs", default=str(N_RUNS),
                        help="run count, or comma-separated counts to time each in its own "
                             "process (e.g. 1,5,10,20)")
    parser.add_argument("--against", type=Path,
                        help="another checkout's src folder: its builds alternate with "
                             "this one's (with --runs a,b,...)")
    parser.add_argument("--floor", action="store_true",
                        help="time the bare decode floor (sqlite3 + zlib + json.loads over "
                             "every row and call the report reads, no medq objects)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global ALL_COT
    ALL_COT = args.all_cot
    if not (MIRAGE / "benchmark.json").is_file():
        sys.exit(f"needs MIRAGE's released files under {MIRAGE}")
    tag = "_allcot" if ALL_COT else ""
    counts = [int(n) for n in args.runs.split(",")]
    if args.child is not None:
        path, ids = _store(tag, args.child, False)
        _child(path, ids[: args.child], args.repeats)
        return
    path, ids = _store(tag, max(counts), args.rebuild)
    if args.floor:
        print(json.dumps(_floor(path, ids[: max(counts)])))
        return
    if len(counts) > 1 or args.against is not None:
        _scaling(tag, counts, args.repeats, args.against)
        return
    ids = ids[: counts[0]]
    questions = _register_task()
    timings, cpu, html = _time_builds(path, ids, args.repeats)
    from medq.store import Store

    with Store(path) as store:
        phases = _phases(store, ids)
    out = WORK / f"report{tag}.html"
    out.write_text(html, encoding="utf-8")
    size_mb = out.stat().st_size / 1e6
    cot = len(ids) if ALL_COT else (len(ids) + 1) // 2
    result = {
        "workload": f"{cot} cot + {len(ids) - cot} direct",
        "runs": len(ids), "items_per_run": len(questions), "repeats": args.repeats,
        "build_s_median": statistics.median(timings), "build_s_all": timings,
        "build_cpu_s_median": statistics.median(cpu),
        "load_average": os.getloadavg(),
        "html_mb": size_mb, "phases_s": phases,
        "target_s": TARGET_S, "target_mb": TARGET_MB,
    }
    (WORK / f"report{tag}.json").write_text(json.dumps(result, indent=2))
    ok_s = "✓" if result["build_s_median"] <= TARGET_S else "✗"
    ok_mb = "✓" if size_mb <= TARGET_MB else "✗"
    print(f"| workload | build wall s (median of {args.repeats}) | CPU s | HTML MB |")
    print("|---|---:|---:|---:|")
    print(f"| {result['workload']}, {len(ids)} × {len(questions):,} | "
          f"{result['build_s_median']:.2f} {ok_s} | {result['build_cpu_s_median']:.2f} | "
          f"{size_mb:.2f} {ok_mb} |")
    print(f"load average during the run: {result['load_average'][0]:.1f}")
    print("phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))


def _floor(path: Path, ids: list[str]) -> dict[str, float]:
    """CPU s of reading and decoding what a page of `ids` needs, with no medq code: each
    result row (its details and reading inflated and parsed) and each call it lists (its
    response inflated and parsed; requests repeat, so each distinct one once)."""
    import sqlite3
    import zlib

    from medq._store_codec import _DICTIONARY_V1

    def inflate(value: bytes) -> str:
        return zlib.decompressobj(-15, zdict=_DICTIONARY_V1).decompress(value[1:]).decode()

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    marks = {}
    t = time.process_time()
    rows = [r for run in ids for r in db.execute(
        "SELECT call_keys, details, reading FROM samples WHERE run_id=? ORDER BY position",
        (run,))]
    marks["result rows (sql)"] = time.process_time() - t
    t = time.process_time()
    for _, details, reading in rows:
        json.loads(inflate(details))
        if reading is not None:
            json.loads(inflate(reading))
    marks["details + readings (inflate + parse)"] = time.process_time() - t
    t = time.process_time()
    keys = [r[0][1 + i:33 + i] for r in rows for i in range(0, len(r[0]) - 1, 32)]
    calls = []
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        calls += db.execute(f"SELECT request, response FROM calls WHERE key IN "
                            f"({','.join('?' * len(chunk))})", chunk).fetchall()
    marks["calls (sql)"] = time.process_time() - t
    t = time.process_time()
    for request in {r for r, _ in calls}:
        json.loads(inflate(request))
    for _, response in calls:
        json.loads(inflate(response))
    marks["calls (inflate + parse)"] = time.process_time() - t
    marks["total"] = sum(marks.values())
    return marks


def _phases(store, ids: list[str]) -> dict[str, float]:
    """Where one build spends its time (CPU seconds of this process, phase by phase, in
    `build_report`'s order, but each phase alone: the gzip thread does not overlap here)."""
    from medq.judge.summary import attach_meta
    from medq.probes._report import control_gaps, robustness_sections
    from medq.report import _comparisons, render
    from medq.report.data import gather_runs
    from medq.report.items import item_payload, pack_payload, payload_json

    marks = {}
    clock = time.process_time
    calls: dict = {}  # as build_report does for a page: calls read with the results
    t = clock()
    runs = gather_runs(store, ids, calls=calls)
    for run in runs:
        attach_meta(run.summary, store)
    marks["load runs + stats"] = clock() - t
    t = clock()
    payload = item_payload(store, runs, calls=calls)
    marks["item data"] = clock() - t
    t = clock()
    raw = payload_json(payload)
    marks["json"] = clock() - t
    t = clock()
    blob = pack_payload(raw)
    marks["gzip + base64"] = clock() - t
    t = clock()
    comparisons = _comparisons(store, ids, runs, 0)
    marks[f"paired comparisons ({len(ids) * (len(ids) - 1) // 2} pairs)"] = clock() - t
    t = clock()
    robustness = robustness_sections(store, ids, samples={r.run_id: r.samples for r in runs})
    gaps = control_gaps(runs)
    marks["robustness + gaps"] = clock() - t
    t = clock()
    render.render_html(runs, comparisons, blob, "bench", robustness=robustness, gaps=gaps)
    marks["templates + svg"] = clock() - t
    return marks


if __name__ == "__main__":
    main()
