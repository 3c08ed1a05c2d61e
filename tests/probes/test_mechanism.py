"""The probe mechanism: specs, composition, item IDs and metadata, run identity, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.probes.toy import N_TOY

from medq.probes import ProbeSpecError, apply_probes, normalize_probe
from medq.runfile import RunFileError, load_runfile
from medq.runner import EvalSpec, evaluate, prepare_run
from medq.store import Store
from medq.testing.scripted import ScriptedModel
from medq.types import Question

ITEM = Question("q1", "Which one?", {"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"}, "C")


def test_specs_normalise_to_one_spelling() -> None:
    assert str(normalize_probe("permute")) == "permute:mode=cyclic"
    assert str(normalize_probe("permute(mode=cyclic)")) == "permute:mode=cyclic"
    assert str(normalize_probe("permute:gold_at=D")) == "permute:gold_at=D,mode=gold_at"
    assert str(normalize_probe("permute:mode=random")) == "permute:k=3,mode=random"
    again = normalize_probe(str(normalize_probe("permute:mode=random,k=5")))
    assert str(again) == "permute:k=5,mode=random"


@pytest.mark.parametrize(("spec", "message"), [
    ("permute:mode=sideways", "parameter mode='sideways' must be one of cyclic, random"),
    ("permute:k=2", "k is for mode=random, not mode=cyclic"),
    ("permute:mode=random,k=0", "parameter k=0 must be >= 1"),
    ("permute:mode=gold_at", "mode=gold_at needs gold_at=<LETTER>"),
    ("permute:colour=red", "has no parameter(s) ['colour']"),
    ("shuffle_everything", "unknown probe 'shuffle_everything'; known: "),
])
def test_bad_specs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(ProbeSpecError) as caught:
        normalize_probe(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_cyclic_variants_ids_and_letter_maps() -> None:
    probed = apply_probes([ITEM], ["permute"], seed=0)
    assert [q.id for q in probed.questions] == [f"q1~shift{s}" for s in range(4)]
    golds = [q.gold for q in probed.questions]
    assert golds == ["C", "B", "A", "D"]  # the gold text "gamma" moves one place a shift
    for q in probed.questions:
        meta = q.metadata["probe"]
        assert meta["of"] == "q1" and meta["gold"] == "C"
        # Every presented option maps back to the original option with the same text.
        assert all(q.options[p] == ITEM.options[o] for p, o in meta["letters"].items())
        assert meta["letters"][q.gold] == "C"
    assert probed.counts == [{"probe": "permute:mode=cyclic", "items_in": 1, "items_out": 1,
                              "variants": 4, "skipped": {}}]


def test_composed_probes_compose_their_letter_maps() -> None:
    probed = apply_probes([ITEM], ["permute:mode=reverse", "permute:gold_at=A"], seed=0)
    (q,) = probed.questions
    assert q.id == "q1~reverse~goldA" and q.gold == "A" and q.options["A"] == "gamma"
    back = q.metadata["probe"]["letters"]
    assert all(q.options[p] == ITEM.options[o] for p, o in back.items())


def test_random_orders_are_seeded_and_distinct() -> None:
    a = apply_probes([ITEM], ["permute:mode=random,k=6"], seed=1).questions
    b = apply_probes([ITEM], ["permute:mode=random,k=6"], seed=1).questions
    c = apply_probes([ITEM], ["permute:mode=random,k=6"], seed=2).questions
    orders = [tuple(q.options.values()) for q in a]
    assert orders == [tuple(q.options.values()) for q in b]
    assert orders != [tuple(q.options.values()) for q in c]
    assert len(set(orders)) == 6
    with pytest.raises(ProbeSpecError, match="k=25 exceeds the 24 orders"):
        apply_probes([ITEM], ["permute:mode=random,k=25"], seed=0)


def test_gold_at_a_missing_position_skips_and_counts() -> None:
    three = Question("q3", "?", {"A": "x", "B": "y", "C": "z"}, "A")
    probed = apply_probes([ITEM, three], ["permute:gold_at=D"], seed=0)
    assert [q.id for q in probed.questions] == ["q1~goldD"]
    assert probed.counts[0]["skipped"] == {"fewer than 4 options": 1}


def test_probes_enter_the_identity_and_name_the_clean_run() -> None:
    clean = prepare_run(EvalSpec(task="probe_toy", model="scripted/x"), "scripted")
    probed = prepare_run(EvalSpec(task="probe_toy", model="scripted/x",
                                  probes=("permute(mode=cyclic)",)), "scripted")
    assert "probes" not in clean.identity
    assert probed.identity["probes"]["specs"] == ["permute:mode=cyclic"]
    assert probed.run_id.startswith("probe_toy-direct+permute-")
    assert probed.probe_info is not None and probed.probe_info["clean_run"] == clean.run_id
    assert len(probed.questions) == 4 * N_TOY
    spelled = prepare_run(EvalSpec(task="probe_toy", model="scripted/x",
                                   probes=["permute"]), "scripted")
    assert spelled.run_id == probed.run_id
    other = prepare_run(EvalSpec(task="probe_toy", model="scripted/x",
                                 probes=("permute:mode=reverse",)), "scripted")
    assert other.run_id != probed.run_id


def test_probes_refuse_a_task_without_options_before_any_call(store: Store) -> None:
    model = ScriptedModel(lambda r: "4")
    with pytest.raises(ProbeSpecError, match="multiple-choice tasks only; task "
                       "'probe_toy_calc' has calculation answers"):
        evaluate(EvalSpec(task="probe_toy_calc", model="scripted/x", strategy="calc_direct",
                          probes=("nota",)), store=store, model=model, progress=False)
    assert model.calls == []


def test_a_probed_run_records_its_probes(store: Store) -> None:
    model = ScriptedModel(lambda r: "Answer: B")
    result = evaluate(EvalSpec(task="probe_toy", model="scripted/x", limit=5,
                               probes=("permute",)), store=store, model=model, progress=False)
    info = store.run(result.run_id)["info"]
    assert info["identity"]["probes"]["specs"] == ["permute:mode=cyclic"]
    assert info["probe"]["counts"][0]["variants"] == 20 and info["n_items"] == 20
    assert result.summary["n"] == 20 and len(model.calls) == 20
    again = evaluate(EvalSpec(task="probe_toy", model="scripted/x", limit=5,
                              probes=("permute",)), store=store, model=model, progress=False)
    assert again.run_id == result.run_id and again.new_calls == 0


def test_run_files_take_a_list_of_probes(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('task = "probe_toy"\nmodel = "scripted/x"\n'
                    'probes = ["permute(mode=reverse)", {name = "permute", gold_at = "B"}]\n')
    assert load_runfile(path).spec.probes == ("permute:mode=reverse",
                                              "permute:gold_at=B,mode=gold_at")
    path.write_text('task = "probe_toy"\nmodel = "scripted/x"\nprobes = "nota"\n')
    with pytest.raises(RunFileError, match="'probes' must be a list of probe specs"):
        load_runfile(path)
    path.write_text('task = "probe_toy"\nmodel = "scripted/x"\nprobes = ["permute:k=x"]\n')
    with pytest.raises(RunFileError, match="probes: probe 'permute'"):
        load_runfile(path)


def test_rescore_of_a_probed_run_keeps_its_scores(store: Store) -> None:
    from medq.runner import rescore

    model = ScriptedModel(lambda r: "The answer is (B).")
    first = evaluate(EvalSpec(task="probe_toy", model="scripted/x", probes=("permute",)),
                     store=store, model=model, progress=False)
    again = rescore(first.run_id, store=store)
    assert (again.summary["correct"], again.summary["n"]) == (
        first.summary["correct"], first.summary["n"]) == (N_TOY, 4 * N_TOY)
