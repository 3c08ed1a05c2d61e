"""The report's robustness section: clean vs probed with intervals, position recall bars."""

from __future__ import annotations

from typing import Any

from medq.report import build_report
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel


def test_report_pairs_probed_runs_with_their_clean_run(store: Store) -> None:
    model = ScriptedModel(lambda r: "Answer: B")
    ids = [evaluate(EvalSpec(task="probe_toy", model="scripted/x", probes=p), store=store,
                    model=model, progress=False).run_id
           for p in [(), ("permute",), ("nota",)]]
    page = build_report(store, ids[1:])  # the clean run comes from the store
    section = page[page.index('<section id="robustness">'):]
    section = section[:section.index("</section>")]
    assert f"Against clean run {ids[0]}" in section
    assert section.count('<tr data-run="') == 2
    assert '<td class="num" data-field="delta">-25.0</td>' in section  # CircularEval: 0 of 20
    assert "recall by gold position" in section and "gold at B" in section
    assert "100.0% (n=20)" in section  # always-B: every variant with gold at B is right
    # Probed items carry their own IDs: no pointless pairing of clean and probed by ID.
    assert 'id="comparison"' not in page


def test_report_without_probes_has_no_robustness_section(store: Store) -> None:
    run = evaluate(EvalSpec(task="probe_toy", model="scripted/x"), store=store,
                   model=ScriptedModel(lambda r: "Answer: B"), progress=False).run_id
    assert 'id="robustness"' not in build_report(store, [run])


def test_report_shows_the_glianorex_control_gap(store: Store, tmp_path) -> None:
    import json

    fiction = tmp_path / "glianorex.jsonl"
    fiction.write_text("".join(json.dumps({
        "id": f"g{i}", "question": f"What does the Glianorex secrete ({i})?",
        "options": {k: f"{k} hormone {i}" for k in "ABCD"}, "answer_idx": "ABCD"[i % 4],
        "language": "en", "section": "Biochemistry"}) + "\n" for i in range(8)))
    model = ScriptedModel(lambda r: "Answer: B")
    real = evaluate(EvalSpec(task="probe_toy", model="scripted/x"), store=store, model=model,
                    progress=False).run_id
    fake = evaluate(EvalSpec(task="glianorex", model="scripted/x", data=str(fiction)),
                    store=store, model=model, progress=False).run_id
    page = build_report(store, [real, fake])
    gaps = page[page.index('<table class="gaps">'):]
    gaps = gaps[:gaps.index("</table>")]
    # Always-B: 5 of 20 real items, 2 of 8 fictional ones: no gap at all.
    assert "<td>probe_toy</td>" in gaps and "<td class=\"num\">+0.0</td>" in gaps


def test_report_reads_each_runs_rows_once(store: Store, monkeypatch) -> None:
    model = ScriptedModel(lambda r: "Answer: B")
    ids = [evaluate(EvalSpec(task="probe_toy", model="scripted/x", probes=p), store=store,
                    model=model, progress=False).run_id
           for p in [(), ("permute",), ("nota",)]]
    reads: list[str] = []
    samples = Store.samples

    def counted(self: Store, run_id: str, extractor: str | None = None, **options: Any):
        reads.append(run_id)
        return samples(self, run_id, extractor, **options)

    monkeypatch.setattr(Store, "samples", counted)
    build_report(store, ids)  # summaries, comparisons, robustness, item browser
    assert sorted(reads) == sorted(ids)
