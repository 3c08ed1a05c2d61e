"""nota, mask and drugnames: what each does to an item, and what the model is sent."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from tests.probes.toy import toy_questions

from medq.probes import ProbeSpecError, apply_probes, normalize_probe
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.tasks.base import load_task
from medq.testing.scripted import ScriptedModel
from medq.types import Question

RABBITS = Path("rabbits") / "generic_to_brand.csv"


def test_nota_replaces_the_gold_in_place() -> None:
    items = toy_questions(8)
    probed = apply_probes(items, ["nota"], seed=0).questions
    for before, after in zip(items, probed, strict=True):
        assert len(after.options) == len(before.options)
        assert after.gold == before.gold
        assert after.options[after.gold] == "None of the other answers"
        assert {k: v for k, v in after.options.items() if k != after.gold} == {
            k: v for k, v in before.options.items() if k != before.gold}


def test_nota_as_a_distractor_is_an_added_wrong_option() -> None:
    (item, *_) = toy_questions(1)
    (after,) = apply_probes([item], ["nota:mode=add_distractor"], seed=0).questions
    assert list(after.options) == ["A", "B", "C", "D", "E"]
    assert after.options["E"] == "None of the other answers" and after.gold == item.gold
    assert after.metadata["probe"]["letters"]["E"] is None


def test_nota_leaves_out_items_that_already_have_one() -> None:
    item = Question("x", "?", {"A": "Aspirin", "B": "None of the above"}, "A")
    probed = apply_probes([item, *toy_questions(2)], ["nota"], seed=0)
    assert len(probed.questions) == 2
    assert probed.counts[0]["skipped"] == {"already has a none/all-of-the-above option": 1}


def test_mask_shares_and_seeds() -> None:
    item = Question("m", "one two three four five six seven eight", {"A": "a", "B": "b"}, "A")
    for share, masked in ((0.25, 2), (0.5, 4), (1.0, 8)):
        (q,) = apply_probes([item], [f"mask:stem={share}"], seed=0).questions
        assert q.metadata["probe"]["notes"]["mask"] == {"masked": masked, "words": 8}
        kept = [w for w in q.stem.split() if w != "___"]
        assert len(kept) == 8 - masked and all(w in item.stem.split() for w in kept)
    (full,) = apply_probes([item], ["mask:stem=1.0"], seed=0).questions
    assert full.stem == "___"
    a = apply_probes([item], ["mask:stem=0.5"], seed=0).questions[0].stem
    b = apply_probes([item], ["mask:stem=0.5"], seed=5).questions[0].stem
    assert a != b
    with pytest.raises(ProbeSpecError, match="stem=0.0 masks nothing"):
        normalize_probe("mask:stem=0")
    with pytest.raises(ProbeSpecError, match="must be <= 1"):
        normalize_probe("mask:stem=1.5")


def test_mask_1_sends_no_word_of_any_stem(store: Store) -> None:
    # Real MedQA items; the words that could only have come from the stem are those in
    # neither the options nor the prompt the model gets for an item without a stem.
    task = load_task("medqa", sample=True)
    model = ScriptedModel(lambda r: "Answer: A")
    evaluate(EvalSpec(task="medqa", model="scripted/x", sample=True, probes=("mask",)),
             store=store, model=model, progress=False)
    assert len(model.calls) == len(task.questions)
    words = lambda text: set(re.findall(r"[a-z]{4,}", text.lower()))  # noqa: E731
    template = words(" ".join(m.content for m in model.calls[0].messages))
    first_lines = lambda texts: tuple(t.strip().splitlines()[0] for t in texts)  # noqa: E731
    by_options = {first_lines(q.options.values()): q for q in task.questions}
    for request in model.calls:
        prompt = request.messages[-1].content
        assert "Question: ___\n" in prompt
        options = first_lines(re.findall(r"^[A-E]\. (.*)$", prompt, re.M))
        item = by_options[options]
        stem_only = words(item.stem) - words(" ".join(item.options.values())) - template
        assert stem_only and not stem_only & words(prompt), item.id


def test_drugnames_swaps_whole_words_keeping_case(tmp_path: Path) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text("generic,brand\nnaproxen,\"[['aleve']]\"\nibuprofen,advil;motrin;vicoprofen\n"
                       "hydrocodone,vicoprofen\nacetaminophen,tylenol\n"
                       "povidone-iodine,betadine\n", encoding="utf-8")
    (mapping.parent / "combo.csv").write_text("generic,brand\nibuprofen,vicoprofen\n"
                                            "hydrocodone,vicoprofen\n")
    item = Question("d", "Naproxen-induced NAPROXEN gastritis; naproxenate? povidone-iodine.",
                    {"A": "Ibuprofen", "B": "acetaminophen", "C": "Vicoprofen"}, "B")
    (q,) = apply_probes([item], [f"drugnames:mapping={mapping}"], seed=0).questions
    assert q.stem == "Aleve-induced ALEVE gastritis; naproxenate? betadine."
    assert q.options["A"] in {"Advil", "Motrin"} and q.options["B"] == "tylenol"
    assert q.options["C"] == "Vicoprofen"  # a brand, not a generic: left alone in g2b
    swaps = q.metadata["probe"]["notes"]["drugnames"]["swaps"]
    assert set(swaps) == {"naproxen", "ibuprofen", "acetaminophen", "povidone-iodine"}
    (back,) = apply_probes([q], [f"drugnames:mapping={mapping},direction=brand_to_generic"],
                           seed=0).questions
    assert back.stem == "Naproxen-induced NAPROXEN gastritis; naproxenate? povidone-iodine."
    assert back.options["C"] == "Vicoprofen"  # hydrocodone and ibuprofen: ambiguous, kept
    with pytest.raises(ProbeSpecError, match="no single-ingredient"):
        apply_probes([item], [f"drugnames:mapping={mapping.parent / 'combo.csv'}"], seed=0)


def test_drugnames_counts_and_leaves_out_items_without_a_drug(tmp_path: Path) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text("generic,brand\nzorblat,zorbex\n", encoding="utf-8")
    probed = apply_probes(toy_questions(5), [f"drugnames:mapping={mapping}"], seed=0)
    assert len(probed.questions) == 5  # every toy stem names a "zorblat"
    mapping.write_text("generic,brand\nwarfarin,coumadin\n", encoding="utf-8")
    probed = apply_probes(toy_questions(5), [f"drugnames:mapping={mapping}"], seed=0)
    assert probed.questions == [] and probed.counts[0]["skipped"] == {
        "no drug name from the mapping": 5}
    kept = apply_probes(toy_questions(5), [f"drugnames:mapping={mapping},keep_unswapped=true"],
                        seed=0)
    assert len(kept.questions) == 5


@pytest.mark.parametrize(("text", "message"), [
    ("drug,brand\nx,y\n", "line 1: no column(s) ['generic']"),
    ("generic,brand\nx,\n", "line 2: field 'brand' is empty"),
    ("generic,brand\nx,\"[['y'\"\n", "line 2: field 'brand' is not a list of names"),
])
def test_drugnames_bad_mapping_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    mapping = tmp_path / "map.csv"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(ProbeSpecError, match=re.escape(message)):
        apply_probes(toy_questions(1), [f"drugnames:mapping={mapping}"], seed=0)
    with pytest.raises(ProbeSpecError, match="mapping .*nowhere.csv"):
        apply_probes(toy_questions(1), [f"drugnames:mapping={tmp_path / 'nowhere.csv'}"],
                     seed=0)


def test_rabbits_mapping_on_medqa(shared_data: Path) -> None:
    task = load_task("medqa", shared_data / "medqa_usmle")
    probed = apply_probes(task.questions, [f"drugnames:mapping={shared_data / RABBITS}"],
                          seed=0)
    swapped = {q.metadata["probe"]["of"] for q in probed.questions}
    with (shared_data / "rabbits" / "annotated_medqa_new.csv").open(encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    theirs = {f"{int(row[0].split('-')[1]):04d}" for row in rows}
    # Every item RABBITS found a drug name in is swapped here too (RABBITS' filter did not
    # search option C, and missed a few names in stems, so medq finds a few more).
    assert len(theirs) == 441 and theirs <= swapped and len(swapped) == 469
    assert probed.counts[0]["skipped"] == {"no drug name from the mapping": 1273 - 469}
