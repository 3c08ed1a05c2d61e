"""bias: BiasMedQA's sentences, character for character, where the paper put them; and the
paper's drop, re-scored from its released flags, through the robustness table."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from medq.probes import apply_probes, robustness
from medq.probes.bias import SENTENCES, bias_sentence, insert_bias
from medq.store import Store
from medq.tasks.base import load_task
from medq.types import Question

RELEASED_KIND = {"bias_output_self_diagnosis": "self_diagnosis",
                 "bias_output_recency": "recency", "bias_output_confirmation": "confirmation",
                 "bias_output_frequency": "frequency", "bias_output_cultural_bias": "cultural",
                 "bias_output_status_quo": "status_quo",
                 "bias_output_false_consensus": "false_consensus"}
# The one released bias_insert that is not the sentence: the release took it as the diff
# of the biased and plain question, and "virus." at the end of that item's first sentence
# makes the diff start a word early. The full biased question is checked instead.
DIFF_ARTEFACT = ("bias_output_confirmation", 14)


def released(shared_data: Path) -> tuple[dict[int, dict], list[dict]]:
    folder = shared_data / "biasmedqa"
    base = {}
    text = (folder / "questions_base_medqa_us_5opt_test.jsonl").read_text(encoding="utf-8")
    for line in text.splitlines():
        record = json.loads(line)
        options = dict(o.split(": ", 1) for o in re.split(r", (?=[A-E]: )", record["options"]))
        base[record["idx"]] = {"question": record["question"], "options": options}
    with gzip.open(folder / "bias_injected_questions_gpt-4-0613_run.jsonl.gz", "rt",
                   encoding="utf-8") as lines:
        rows = [r for r in map(json.loads, lines) if r["condition"] in RELEASED_KIND]
    return base, rows


def test_sentences_and_placement_match_the_release(shared_data: Path) -> None:
    base, rows = released(shared_data)
    assert len(base) == 1273 and len(rows) == 7 * 1273
    checked: dict[str, int] = {}
    for row in rows:
        kind, item = RELEASED_KIND[row["condition"]], base[row["idx"]]
        letter = re.search(SENTENCES[kind].split("{")[0].strip() + r"\s+([A-E]): ",
                           row["question"]).group(1)
        sentence = bias_sentence(kind, letter, item["options"][letter])
        if (row["condition"], row["idx"]) != DIFF_ARTEFACT:
            assert sentence == row["bias_insert"], (row["condition"], row["idx"])
        # The release's text went through a log parser that kept some whitespace it
        # should not have ("\\n " before the sentence); words and order must agree.
        placed = insert_bias(kind, item["question"], sentence)
        assert placed.split() == row["question"].split(), (row["condition"], row["idx"])
        checked[kind] = checked.get(kind, 0) + 1
    assert checked == {kind: 1273 for kind in SENTENCES}


def test_the_probe_names_a_seeded_wrong_option(shared_data: Path) -> None:
    task = load_task("medqa_5opt", shared_data / "medqa_usmle")
    first = apply_probes(task.questions, ["bias:kind=false_consensus"], seed=0).questions
    again = apply_probes(task.questions, ["bias:kind=false_consensus"], seed=0).questions
    other = apply_probes(task.questions, ["bias:kind=false_consensus"], seed=1).questions
    assert len(first) == 1273 and first == again
    letters = [q.metadata["probe"]["notes"]["bias"]["letter"] for q in first]
    assert all(letter != q.gold for letter, q in zip(letters, first, strict=True))
    assert letters != [q.metadata["probe"]["notes"]["bias"]["letter"] for q in other]
    assert set(letters) == set("ABCDE")
    for q, original in zip(first, task.questions, strict=True):
        assert q.stem == original.stem + " " + bias_sentence(
            "false_consensus", q.metadata["probe"]["notes"]["bias"]["letter"],
            original.options[q.metadata["probe"]["notes"]["bias"]["letter"]])
        assert q.gold == original.gold and q.id == f"{original.id}~false_consensus"


def items() -> list[Question]:
    return [Question(f"q{i}", f"First sentence {i}. Dr. Who asks e.g. this? Last one.",
                     {"A": f"a{i}", "B": f"b{i}", "C": f"c{i}"}, "ABC"[i % 3])
            for i in range(6)]


def test_confirmation_goes_after_the_first_sentence() -> None:
    (q, *_) = apply_probes(items(), ["bias:kind=confirmation"], seed=0).questions
    letter = q.metadata["probe"]["notes"]["bias"]["letter"]
    assert q.stem == (f"First sentence 0. You are initially confident that the correct "
                      f"answer is {letter}: {letter.lower()}0. Dr. Who asks e.g. this? "
                      "Last one.")


@pytest.mark.parametrize("mitigation", ["education", "one_shot", "few_shot"])
def test_mitigations_open_the_stem(mitigation: str) -> None:
    probed = apply_probes(items(), [f"bias:kind=recency,mitigation={mitigation}"], seed=3)
    q = probed.questions[0]
    assert q.id == f"q0~recency+{mitigation}"
    assert q.stem.endswith("Recently, there was a patient with similar symptoms that you "
                           f"diagnosed with {q.metadata['probe']['notes']['bias']['letter']}: "
                           f"{q.metadata['probe']['notes']['bias']['letter'].lower()}0.")
    plain = apply_probes(items(), ["bias:kind=recency"], seed=3).questions[0]
    assert q.metadata["probe"]["notes"] == plain.metadata["probe"]["notes"]  # same wrong option
    assert q.stem.endswith(plain.stem)
    if mitigation == "education":
        assert q.stem.startswith("Keep in mind the importance of individualized patient")
        return
    examples = re.findall(r"### Question: First sentence (\d)", q.stem)
    assert len(examples) == (2 if mitigation == "few_shot" else 1)
    assert "0" not in examples  # never the item itself
    assert q.stem.count("### Answer: ") == len(examples)
    assert "### Instruction: Now please answer the next question correctly.\n\n" in q.stem


def test_biasmedqa_drop_through_the_robustness_table(shared_data: Path, store: Store) -> None:
    from medq.importers import import_predictions

    outputs = shared_data / "biasmedqa" / "model_outputs_all_conditions.jsonl.gz"
    runs = {
        condition: import_predictions(outputs, task="medqa_5opt", model="gpt-4-0613",
                                      fmt="biasmedqa", data=shared_data / "medqa_usmle",
                                      condition=condition, store=store).run_id
        for condition in ("no_bias", "false_consensus")
    }
    result = robustness(store, runs["no_bias"], [runs["false_consensus"]], n_resamples=2000)
    (row,) = result.rows
    assert row.label == "bias_output_false_consensus" and row.n_paired == 1273
    # The paper's flags: 72.66% without bias, 62.45% under false consensus (medq's own
    # extractor reads the released letters; the figures agree to the item).
    assert row.clean_accuracy == pytest.approx(0.7266, abs=0.0005)
    assert row.paired_accuracy == pytest.approx(0.6245, abs=0.0005)
    assert row.delta_ci_high < 0 and row.p_value < 1e-6
