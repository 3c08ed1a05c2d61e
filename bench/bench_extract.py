"""Answer extraction at scale: 100,000 responses of mixed styles, mean about 1 kB.

The responses are built from templates with a seeded generator, in the proportions of an
evaluation mixing instruct, chatty, JSON-mode and reasoning models: bare letters ("C",
"(C)", "**C**"), short answers ("C: Pulmonary embolism"), chatty paragraphs, MIRAGE-style
JSON, reasoning-model output of 1-3 kB with a closed (or template-opened) think block, and
non-English answers read with their language's lexicon. 2,000 distinct option sets (a
benchmark's worth of questions, so the per-question compiled options are built as in a
real run). Each style is timed on its own in CPU time of this process (the development
machine is shared, so wall time depends on other people's jobs), best of `--repeats`
passes; the whole mix once more end to end, CPU and wall.

Targets (issue 11): <= 20 us per bare-letter response, <= 200 us per 1 kB reasoning
response.

    .venv/bin/python bench/bench_extract.py [--responses 100000] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from medq.scoring.extract import EXTRACTOR_VERSION, extract_choice

DIAGNOSES = [
    "Pneumonia", "Asthma", "Pulmonary embolism", "Heart failure", "Pneumothorax",
    "Sarcoidosis", "Tuberculosis", "Lung cancer", "Pleural effusion", "Bronchiectasis",
    "Myocardial infarction", "Aortic dissection", "Pericarditis", "Costochondritis",
    "Gastro-oesophageal reflux", "Pancreatitis", "Cholecystitis", "Appendicitis",
    "Diverticulitis", "Hypothyroidism", "Hyperthyroidism", "Addison disease",
    "Cushing syndrome", "Diabetic ketoacidosis", "Iron deficiency anaemia",
    "Vitamin B12 deficiency", "Hereditary spherocytosis", "Sickle cell disease",
]
SENTENCES = [
    "The patient is a {age}-year-old who presents with {finding} for {days} days.",
    "On examination the heart rate is {hr}/min and the oxygen saturation is {sat}%.",
    "{option} would usually present with {finding}, which is not described here.",
    "The laboratory results show a raised D-dimer and a normal troponin.",
    "Let me reconsider the timeline: the symptoms began after the operation.",
    "{option} is less likely because there is no fever and the chest film is clear.",
    "We should also think about the risk factors, such as immobility and recent surgery.",
    "Hmm, the ECG shows sinus tachycardia with an S1Q3T3 pattern, which supports a clot.",
    "Option {letter} can be excluded, since the presentation is acute.",
    "Wait, the question asks for the most likely diagnosis, not the next step.",
    "Taking all of this together, one diagnosis explains every finding.",
]
FINDINGS = ["sudden dyspnoea", "pleuritic chest pain", "a productive cough", "haemoptysis",
            "fatigue and weight loss", "palpitations", "ankle swelling"]


def _options(rng: random.Random) -> dict[str, str]:
    return dict(zip("ABCDE", rng.sample(DIAGNOSES, 5), strict=True))


def _reasoning(rng: random.Random, options: dict[str, str], size: int) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < size:
        letter = rng.choice("ABCDE")
        parts.append(rng.choice(SENTENCES).format(
            age=rng.randint(18, 90), finding=rng.choice(FINDINGS), days=rng.randint(1, 14),
            hr=rng.randint(60, 140), sat=rng.randint(85, 99), option=options[letter],
            letter=letter))
    return " ".join(parts)


def bare(rng: random.Random, options: dict[str, str], key: str) -> str:
    return rng.choice(["{k}", "{k}.", "({k})", "**{k}**", " {k}\n", "[{k}]"]).format(k=key)


def short(rng: random.Random, options: dict[str, str], key: str) -> str:
    return rng.choice(["{k}: {t}", "{k}) {t}", "Answer: {k}", "The answer is {k}.",
                       "{t}"]).format(k=key, t=options[key])


def chatty(rng: random.Random, options: dict[str, str], key: str) -> str:
    body = _reasoning(rng, options, rng.randint(500, 1500))
    return rng.choice([
        "Based on the findings, the most likely diagnosis is {t}. {b}",
        "{b}\n\nTherefore, the correct answer is ({k}) {t}.",
        "I think it's {k}. {b}",
        "{b} The answer is B. Wait, no, it's {k}.",
    ]).format(k=key, t=options[key], b=body)


def json_mode(rng: random.Random, options: dict[str, str], key: str) -> str:
    body = _reasoning(rng, options, rng.randint(700, 1500))
    return json.dumps({"step_by_step_thinking": body,
                       "answer_choice": f"{key}. {options[key]}"})


def reasoning(rng: random.Random, options: dict[str, str], key: str) -> str:
    think = _reasoning(rng, options, rng.randint(900, 3000))
    answer = rng.choice(["The answer is {k}.", "**Answer: {k}**", "\\boxed{{{k}}}",
                         "Final answer: {k}. {t}"]).format(k=key, t=options[key])
    opener = "<think>\n" if rng.random() < 0.7 else ""  # or opened by the chat template
    return f"{opener}{think}\n</think>\n\n{answer}"


def multilingual(rng: random.Random, options: dict[str, str], key: str) -> tuple[str, str]:
    language, template = rng.choice([
        ("es", "La respuesta correcta es la {k}."), ("fr", "La bonne réponse est {k}."),
        ("de", "Die richtige Antwort ist {k}."), ("zh", "答案：{k}"), ("ja", "正解は{k}です。"),
        ("pt", "A alternativa {k} está correta."), ("ko", "정답은 {k}입니다."),
    ])
    body = _reasoning(rng, options, rng.randint(400, 1200))
    return f"{body}\n\n{template.format(k=key)}", language


STYLES: dict[str, tuple[float, Callable[..., object]]] = {
    # style -> (share of the responses, generator)
    "bare_letter": (0.15, bare),
    "short": (0.10, short),
    "chatty": (0.25, chatty),
    "json": (0.15, json_mode),
    "reasoning": (0.30, reasoning),
    "multilingual": (0.05, multilingual),
}


def build(n: int, option_sets: int, seed: int) -> list[tuple[str, str, dict[str, str], str,
                                                            tuple[str, ...]]]:
    """(style, response, options, gold, languages) for `n` responses."""
    rng = random.Random(seed)
    pools = [_options(rng) for _ in range(option_sets)]
    names = list(STYLES)
    weights = [STYLES[s][0] for s in names]
    items = []
    for _ in range(n):
        style = rng.choices(names, weights)[0]
        options = rng.choice(pools)
        key = rng.choice("ABCDE")
        made = STYLES[style][1](rng, options, key)
        text, languages = (made if isinstance(made, tuple) else (made, "en"))
        items.append((style, text, options, key, (languages,)))
    return items


def run(items: list, repeats: int) -> dict[str, dict[str, float]]:
    by_style: dict[str, list] = defaultdict(list)
    for item in items:
        by_style[item[0]].append(item)
    results: dict[str, dict[str, float]] = {}
    wrong = 0
    for style, group in by_style.items():
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            for _, text, options, _, languages in group:
                extract_choice(text, options, languages=languages)
            best = min(best, time.process_time() - start)
        wrong += sum(extract_choice(t, o, languages=lang).choice != gold
                     for _, t, o, gold, lang in group)
        chars = statistics.mean(len(g[1]) for g in group)
        results[style] = {"n": len(group), "mean_chars": chars,
                          "us_per_response": best / len(group) * 1e6,
                          "us_per_kb": best / len(group) * 1e6 * 1000 / chars}
    start, wall = time.process_time(), time.perf_counter()
    for _, text, options, _, languages in items:
        extract_choice(text, options, languages=languages)
    total, wall = time.process_time() - start, time.perf_counter() - wall
    chars = statistics.mean(len(i[1]) for i in items)
    results["all"] = {"n": len(items), "mean_chars": chars,
                      "us_per_response": total / len(items) * 1e6,
                      "us_per_kb": total / len(items) * 1e6 * 1000 / chars, "total_s": total,
                      "wall_s": wall, "misread": wrong}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--option-sets", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    if args.responses < 1 or args.repeats < 1 or args.option_sets < 1:
        parser.error("--responses, --repeats and --option-sets must be at least 1")
    items = build(args.responses, args.option_sets, args.seed)
    results = run(items, args.repeats)
    print(f"medq extractor {EXTRACTOR_VERSION}, Python {platform.python_version()}, "
          f"{args.responses:,} responses, {args.option_sets:,} option sets, "
          f"best of {args.repeats}")
    print(f"{'style':<14}{'n':>8}{'mean chars':>12}{'CPU us/response':>17}{'CPU us/kB':>11}")
    for style, r in results.items():
        print(f"{style:<14}{r['n']:>8,}{r['mean_chars']:>12.0f}{r['us_per_response']:>17.1f}"
              f"{r['us_per_kb']:>11.1f}")
    print(f"end to end: {results['all']['total_s']:.2f} CPU-s, "
          f"{results['all']['wall_s']:.2f} s wall; "
          f"responses not read as their intended option: {results['all']['misread']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    if results["all"]["misread"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
