"""The report's item browser shows an interactive answer's dialogue."""

from __future__ import annotations

import base64
import gzip
import json
import re
import sys
from pathlib import Path

from medq.interactive.patient import REFUSAL
from medq.report import build_report
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from scripted_consultation import consultation, kind_of, scripted_responder  # noqa: E402

from test_report_browser import assert_quiet_and_offline, driver  # noqa: E402, F401


def _reply(prompt: str, seed: int) -> str:
    if kind_of(prompt) == "factselect" and "Question 2?" in prompt:
        return REFUSAL
    return consultation(ask=2)(prompt, seed)


def _run(store: Store) -> str:
    spec = EvalSpec("imedqa", "scripted/expert", "mediq(condition=interactive)", sample=True,
                    limit=2)
    return evaluate(spec, store=store, model=ScriptedModel(scripted_responder(_reply)),
                    progress=False).run_id


def test_item_data_carries_the_dialogue() -> None:
    with Store() as store:
        run_id = _run(store)
        html = build_report(store, [run_id])
        sample = next(iter(store.samples(run_id)))
    encoded = re.search(r'id="item-data"[^>]*>([^<]+)<', html).group(1)
    payload = json.loads(gzip.decompress(base64.b64decode(encoded)))
    item = next(i for i in payload["items"] if i["id"] == sample.item_id)
    record = item["r"][0]
    assert record[8:10] == [0, -1]  # no retrieval, no worked calculation
    stop, timeout, turns = record[10]
    strings = payload["strings"]
    assert (strings[stop], timeout, len(turns)) == ("confident", 0, 2)
    assert [strings[t[0]] for t in turns] == ["Question 1?", "Question 2?"]
    assert [strings[t[1]] for t in turns][1] == REFUSAL and [t[2] for t in turns] == [0, 1]


def test_dialogue_in_chromium(driver, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with Store() as store:
        run_id = _run(store)
        sample = next(iter(store.samples(run_id)))
        page = tmp_path / "report.html"
        page.write_text(build_report(store, [run_id]), encoding="utf-8")
    driver.get_log("performance")
    driver.get(page.as_uri())
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count"))
    driver.find_element(By.ID, "filter-text").send_keys(sample.item_id)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count") == "1")
    driver.find_element(By.CSS_SELECTOR, "#item-list details.item summary").click()
    view = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "div.dialogue"))
    assert "dialogue: 2 questions, stopped: confident" in view.text.lower()  # CSS caps
    turns = view.find_elements(By.CSS_SELECTOR, "ol.turns > li")
    assert len(turns) == 2
    assert turns[0].text.startswith("Doctor: Question 1?\nPatient: ")
    assert sample.details["dialogue"][0]["reply"] in turns[0].text
    assert f"Patient: {REFUSAL}" in turns[1].text
    assert "choice so far C" in turns[0].text
    assert_quiet_and_offline(driver, page)
