"""Option log-likelihood scoring: medq's hf/ backend vs lm-eval's ``hf`` backend.

Both score the same MedQA-style 4-option questions (every option's text after the
chat-rendered question) with the same tiny random Llama on the same CPU threads; the
throughput is questions (items) per second, model loading excluded.

    .venv/bin/python bench/bench_local_scoring.py [--questions 200]

lm-eval runs in its own virtualenv (bench/.work/venv-lmeval), created on first use with
``pip install torch==2.13.0 'lm-eval[hf]'`` (the CPU wheel on this machine; never an
unpinned torch). The script re-runs itself there with ``--lm-eval-worker``, so lm-eval and
medq never share a process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
LMEVAL_VENV = WORK / "venv-lmeval"
MEDQA = ROOT.parent / "shared/data/medqa_usmle/US/4_options/phrases_no_exclude_test.jsonl"
SYSTEM = "You are a medical expert. Answer the multiple-choice question."


def load_questions(n: int) -> list[dict]:
    """MedQA (US, 4 options) test questions when present, else generated ones."""
    if MEDQA.is_file():
        rows = [json.loads(line) for line in MEDQA.read_text().splitlines()[:n]]
        return [{"question": r["question"], "options": r["options"]} for r in rows]
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from tiny_model import medical_sentences

    sentences = medical_sentences(n * 5, seed=1)
    return [
        {
            "question": " ".join(sentences[5 * i : 5 * i + 4]),
            "options": {k: sentences[5 * i + 4].split("Answer: ")[1] + k for k in "ABCD"},
        }
        for i in range(n)
    ]


def user_prompt(q: dict) -> str:
    options = "\n".join(f"{k}. {v}" for k, v in q["options"].items())
    return f"{q['question']}\n\n{options}\n\nAnswer with the text of the correct option."


def build_model(path: Path, questions: list[dict]) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from tiny_model import build_tiny_model

    corpus = [user_prompt(q) for q in questions]
    build_tiny_model(
        path, hidden_size=256, layers=4, heads=4, kv_heads=4, vocab_size=2048, corpus=corpus
    )


def run_medq(model_dir: Path, questions: list[dict]) -> dict:
    import asyncio

    from medq.models.hf_local import HFLocalModel
    from medq.types import LoglikelihoodRequest, Message

    model = HFLocalModel(str(model_dir), device="cpu")
    requests = [
        LoglikelihoodRequest(
            context=(Message("system", SYSTEM), Message("user", user_prompt(q))),
            continuations=tuple(q["options"].values()),
        )
        for q in questions
    ]

    async def score_all(batch: list[LoglikelihoodRequest]) -> list:
        return await asyncio.gather(*(model.loglikelihoods(r) for r in batch))

    asyncio.run(score_all(requests[:4]))  # warm-up
    start = time.perf_counter()
    scores = asyncio.run(score_all(requests))
    elapsed = time.perf_counter() - start
    # The exact token ids medq scored, so lm-eval can be checked on identical inputs.
    pairs = []
    for r in requests:
        rendered = model.render(r.context)
        context = model.prompt_ids(r.context)
        pairs.append([[context, model.continuation_ids(c, rendered)] for c in r.continuations])
    return {
        "seconds": elapsed,
        "contexts": [model.render(r.context) for r in requests],
        "context_tokens": sum(len(p[0][0]) for p in pairs) / len(pairs),
        "logprobs": [[s.logprob for s in q] for q in scores],
        "pairs": pairs,
    }


def lmeval_worker(job_path: Path) -> None:
    """Runs inside the lm-eval venv: score the job's requests with HFLM, write timings."""
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    job = json.loads(job_path.read_text())
    out = {"torch_threads": torch.get_num_threads()}
    for batch_size in job["batch_sizes"]:
        lm = HFLM(pretrained=job["model_dir"], device="cpu", batch_size=batch_size, dtype="float32")
        requests = [
            Instance("loglikelihood", {}, (context, option), idx)
            for context, options in zip(job["contexts"], job["options"], strict=True)
            for idx, option in enumerate(options)
        ]
        lm.loglikelihood(requests[:16], disable_tqdm=True)  # warm-up
        start = time.perf_counter()
        lm.loglikelihood(requests, disable_tqdm=True)
        out[f"seconds_bs{batch_size}"] = time.perf_counter() - start
        if batch_size == job["batch_sizes"][0]:
            # Agreement check on medq's exact token ids (lm-eval's own string path moves the
            # context's trailing newline into every continuation, a per-question constant).
            token_requests = [
                (("", ""), context, option) for pairs in job["pairs"] for context, option in pairs
            ]
            out["logprobs"] = [lp for lp, _ in lm._loglikelihood_tokens(token_requests, True)]
    (job_path.parent / "lmeval_result.json").write_text(json.dumps(out))


def ensure_lmeval_venv() -> Path:
    python = LMEVAL_VENV / "bin" / "python"
    check = [str(python), "-c", "import lm_eval.models.huggingface"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(LMEVAL_VENV)], check=True)
    pip = [str(LMEVAL_VENV / "bin" / "pip"), "install", "-q"]
    subprocess.run([*pip, "torch==2.13.0", "lm-eval[hf]==0.4.13"], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--lm-eval-batch-sizes", default="1,8")
    parser.add_argument("--lm-eval-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lm_eval_worker:
        lmeval_worker(args.lm_eval_worker)
        return

    WORK.mkdir(parents=True, exist_ok=True)
    questions = load_questions(args.questions)
    model_dir = WORK / "tiny-llama-bench"
    build_model(model_dir, questions)

    medq = run_medq(model_dir, questions)
    job = {
        "model_dir": str(model_dir),
        "contexts": medq["contexts"],
        "options": [list(q["options"].values()) for q in questions],
        "pairs": medq["pairs"],
        "batch_sizes": [int(b) for b in args.lm_eval_batch_sizes.split(",")],
    }
    job_path = WORK / "lmeval_job.json"
    job_path.write_text(json.dumps(job))
    python = ensure_lmeval_venv()
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    subprocess.run([str(python), __file__, "--lm-eval-worker", str(job_path)], check=True, env=env)
    lmeval = json.loads((WORK / "lmeval_result.json").read_text())

    n = len(questions)
    flat = [lp for q in medq["logprobs"] for lp in q]
    diff = max(abs(a - b) for a, b in zip(flat, lmeval["logprobs"], strict=True))
    medq_rate = n / medq["seconds"]
    print(
        f"\n{n} questions x 4 options, mean context {medq['context_tokens']:.0f} tokens, "
        f"torch threads {lmeval['torch_threads']}, max |logprob diff| on identical tokens "
        f"{diff:.1e}\n"
    )
    print("| backend | items/s | seconds | medq speed-up |")
    print("|---|---:|---:|---:|")
    medq_row = (
        f"| medq hf/ (prefix once, options batched) | {medq_rate:.2f} | {medq['seconds']:.1f}"
    )
    print(f"{medq_row} | 1.00x |")
    for batch_size in job["batch_sizes"]:
        seconds = lmeval[f"seconds_bs{batch_size}"]
        print(
            f"| lm-eval 0.4.13 hf, batch_size={batch_size} | {n / seconds:.2f} | {seconds:.1f} "
            f"| {medq_rate / (n / seconds):.2f}x |"
        )


if __name__ == "__main__":
    main()
