"""The HTML report in a real browser: headless Chromium through selenium and chromedriver.

Asserts that the page loads with no console errors and no request leaving the page, that
the summary shows `summarize`'s numbers, that the "wrong" filter shows exactly the wrong
items, that hostile model output renders as text, and that a MedRAG run's items show their
retrieved snippets with the cited ones marked, that every mark has a legend and each
collapsed item shows every run's answer beside the gold, and that nothing is clipped at
1280 and 1920 px wide. Saves screenshots to artifacts/.

Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them).
Without them the test skips locally and fails under CI (CI set), so CI cannot skip it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.browser import chromium_driver

from medq.report import build_report
from medq.report.render import pct
from medq.runner import EvalSpec, evaluate
from medq.scoring.metrics import summarize
from medq.store import Store
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOSTILE = ("<script>document.title='pwned'</script>"
           "<img src=x onerror=\"document.title='pwned'\"> Answer: C")


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    yield from chromium_driver(tmp_path, monkeypatch, "1400,1800")


def scripted(salt: str) -> ScriptedModel:
    def respond(request: GenerationRequest) -> str:
        h = int(hashlib.sha256((salt + request.messages[-1].content).encode()).hexdigest(), 16)
        if h % 10 == 0:
            return HOSTILE
        if h % 10 == 1:
            return "Unsure; see https://example.com/x and <a href='https://example.com'>x</a>"
        return f"The answer is ({'ABCD'[h % 4]})."

    return ScriptedModel(respond, name=f"scripted/{salt}")


def test_report_in_chromium(driver, tmp_path: Path, medq_home: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with Store() as store:
        ids = [
            evaluate(EvalSpec(task="medqa", sample=True, model=f"scripted/m{i}",
                              strategy=strategy), store=store, model=scripted(f"m{i}"),
                     progress=False).run_id
            for i, strategy in enumerate(["direct", "cot"])
        ]
        # An imported run adds the paper-parser column, the widest summary there is.
        ids.append(imported_run(store, tmp_path))
        summaries = [summarize(store.run(i), store.samples(i)) for i in ids]
        samples = [list(store.samples(i)) for i in ids]
        page = tmp_path / "report.html"
        page.write_text(build_report(store, ids), encoding="utf-8")

    driver.get_log("performance")  # drop the start-up tab's chrome:// loads
    driver.get(page.as_uri())
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count"))

    # The summary shows summarize's numbers.
    for s in summaries:
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-run="{s["run_id"]}"]')
        cell = {c.get_attribute("data-field"): c.text
                for c in row.find_elements(By.CSS_SELECTOR, "td[data-field]")}
        assert cell["n"] == str(s["n"])
        assert cell["accuracy"] == pct(s["accuracy"])

    def count() -> int:
        return int(driver.find_element(By.ID, "item-count").get_attribute("data-count"))

    def visible() -> int:
        return len(driver.find_elements(By.CSS_SELECTOR, "#item-list details.item"))

    assert count() == 50 and visible() == 50
    assert_answers_beside_gold(driver, samples)
    legend = driver.find_element(By.ID, "item-legend").text
    for words in ("correct", "wrong", "invalid", "error", "not in this run", "✓ gold",
                  "that run's answer"):
        assert words in legend
    assert not driver.find_element(By.ID, "legend-marks").is_displayed()  # no retrieval here
    wrong = {s["item_id"] for rows in samples for s in rows
             if s["status"] == "invalid" or (s["status"] == "ok" and not s["correct"])}
    assert 0 < len(wrong) < 50
    driver.find_element(By.ID, "filter-wrong").click()
    assert count() == len(wrong) and visible() == len(wrong)
    shown = {e.get_attribute("data-item")
             for e in driver.find_elements(By.CSS_SELECTOR, "#item-list details.item")}
    assert shown == wrong

    # Hostile output is text: open an item whose response is the hostile string.
    hostile = next(s["item_id"] for s in samples[0] if s["response"] == HOSTILE)
    search = driver.find_element(By.ID, "filter-text")
    driver.find_element(By.CSS_SELECTOR, 'button[data-verdict="all"]').click()
    search.send_keys(hostile)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count") == "1")
    driver.find_element(By.CSS_SELECTOR, "#item-list details.item summary").click()

    def texts(d: object) -> list[str]:
        return [e.get_attribute("textContent")
                for e in driver.find_elements(By.CSS_SELECTOR, "#item-list pre.text")]

    # The item's details render when it opens; under load that can take a moment.
    wait.until(lambda d: HOSTILE in texts(d))
    assert driver.find_elements(By.CSS_SELECTOR, "#item-list img, #item-list a") == []
    assert driver.title != "pwned"

    ARTIFACTS.mkdir(exist_ok=True)
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)  # clear() fires no input event
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count") == "50")
    driver.find_element(By.ID, "filter-wrong").click()
    driver.find_element(By.CSS_SELECTOR, "#item-list details.item summary").click()
    driver.execute_script("document.getElementById('items').scrollIntoView()")
    driver.save_screenshot(str(ARTIFACTS / "report-items.png"))
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(ARTIFACTS / "report.png"))
    for width in (1280, 1920):
        driver.set_window_size(width, 1100)
        wait.until(lambda d, w=width: d.execute_script("return window.innerWidth") == w)
        driver.execute_script("window.scrollTo(0, 0)")
        assert driver.save_screenshot(str(ARTIFACTS / f"report-{width}.png"))
        assert overflowing(driver) == [], width

    assert_quiet_and_offline(driver, page)


# Every element that scrolls sideways (a table or chart wider than its box), and the page
# itself when wider than the window: what a reader would see clipped.
OVERFLOW_JS = """
const found = [];
for (const box of document.querySelectorAll('.scroll, section, figure')) {
  if (box.scrollWidth > box.clientWidth + 1) {
    found.push(`${box.tagName}.${box.className} ${box.scrollWidth} > ${box.clientWidth}`);
  }
}
const page = document.documentElement;
if (page.scrollWidth > page.clientWidth + 1) found.push(`page ${page.scrollWidth}`);
for (const table of document.querySelectorAll('table')) {
  const last = table.querySelector('tr > :last-child');
  if (last && last.getBoundingClientRect().right > page.clientWidth) found.push('last column');
}
return found;
"""


def overflowing(driver) -> list[str]:
    return driver.execute_script(OVERFLOW_JS)


def imported_run(store: Store, tmp_path: Path) -> str:
    """A run imported with the paper's own verdicts, under a long model name."""
    from medq.importers import import_predictions
    from medq.tasks import load_task

    path = tmp_path / "preds.jsonl"
    path.write_text("".join(
        json.dumps({"id": q.id, "response": f"Answer: {q.gold if i % 3 else 'A'}",
                    "paper_choice": "A", "paper_correct": i % 2 == 0}) + "\n"
        for i, q in enumerate(load_task("medqa", sample=True).questions)))
    return import_predictions(path, task="medqa", sample=True, store=store, progress=False,
                              model="a-rather-long-organisation-name/gpt-4-32k-0613").run_id


def assert_answers_beside_gold(driver, samples: list[list[dict]]) -> None:
    """Each collapsed row shows the gold and, per run, that run's extracted answer."""
    from selenium.webdriver.common.by import By

    by_run = [{s["item_id"]: s for s in rows} for rows in samples]
    rows = driver.find_elements(By.CSS_SELECTOR, "#item-list details.item")
    for row in rows[:10]:
        item = row.get_attribute("data-item")
        summary = row.find_element(By.TAG_NAME, "summary")
        gold = summary.find_element(By.CSS_SELECTOR, ".gold").text
        assert gold == f"gold {by_run[0][item]['gold']}"
        answers = [c.get_attribute("textContent") for c in
                   summary.find_elements(By.CSS_SELECTOR, ".answers .chip .answer")]
        expected = [run[item]["choice"] or "—" for run in by_run]
        assert answers == expected, item


def assert_quiet_and_offline(driver, page: Path) -> None:
    """No console errors (CSP violations included), and no request left the page."""
    errors = [e for e in driver.get_log("browser") if e["level"] in {"SEVERE", "ERROR"}]
    assert errors == []
    requests = []  # (document that asked, URL)
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append((params.get("documentURL", ""), params["request"]["url"]))
        elif message["method"] == "Network.webSocketCreated":
            requests.append(("", params["url"]))
    ours = [url for document, url in requests if document == page.as_uri()]
    assert page.as_uri() in ours
    assert all(url.startswith(("file://", "data:")) for url in ours), ours
    # chrome: and chrome-untrusted: are the browser's own internal pages, not the network.
    internal = ("file:", "data:", "chrome:", "chrome-untrusted:")
    outside = [url for _, url in requests if not url.startswith(internal)]
    assert outside == []


# Outside the Basic Multilingual Plane (🩺 is two UTF-16 units) so that texts read back as
# slices of a prompt must be sliced in the page's units, not Python's.
SNIPPETS = {
    "n1": ("Presentation", "🩺 A patient presents with pain and fever; the year-old man."),
    "n2": ("Management", "Management of the patient depends on the diagnosis. 🩺"),
    "n3": ("Pregnancy", HOSTILE + " A woman, pregnant at 30 weeks, gives her history. 🩺"),
    "n4": ("Vital signs", "Her blood pressure, pulse and temperature are normal. 🩺"),
}


def test_retrieved_snippets_in_chromium(driver, tmp_path: Path, medq_home: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from medq.retrieval import add_corpus

    source = tmp_path / "notes.jsonl"
    source.write_text("".join(json.dumps({"id": i, "title": t, "content": c}) + "\n"
                              for i, (t, c) in SNIPPETS.items()), encoding="utf-8")
    add_corpus("notes", source)
    reply = json.dumps({"step_by_step_thinking": "Document [1] says so.", "answer_choice": "A"})
    with Store() as store:
        spec = EvalSpec(task="medqa", sample=True, model="scripted/rag",
                        strategy="medrag:corpus=notes,k=4,budget=60")
        run_id = evaluate(spec, store=store, model=ScriptedModel(lambda r: reply),
                          progress=False).run_id
        # An item with a snippet retrieved but not shown, beside the cited one.
        sample = next(s for s in store.samples(run_id)
                      if len(s["details"]["retrieved"]) > len(s["details"]["cited"]) > 0)
        page = tmp_path / "report.html"
        page.write_text(build_report(store, [run_id]), encoding="utf-8")
    details = sample["details"]

    driver.get_log("performance")
    driver.get(page.as_uri())
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count"))
    driver.find_element(By.ID, "filter-text").send_keys(sample["item_id"])
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count") == "1")
    driver.find_element(By.CSS_SELECTOR, "#item-list details.item summary").click()
    # Collapsed until asked for: the list renders when its summary is clicked.
    toggle = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "details.snippets summary"))
    assert driver.find_elements(By.CSS_SELECTOR, "li.snippet") == []
    assert f"{len(details['retrieved'])} snippets retrieved" in toggle.text
    toggle.click()
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "li.snippet"))
    assert [r.get_attribute("data-snippet") for r in rows] == [
        r["id"] for r in details["retrieved"]]
    cited = [r.get_attribute("data-snippet") for r in rows
             if r.find_elements(By.CSS_SELECTOR, ".mark.cited")]
    assert cited == details["cited"]
    assert [r.get_attribute("data-snippet") for r in rows
            if "referenced" in r.get_attribute("class").split()] == details["referenced"]
    assert all(r.text.startswith(f"#{n}") for n, r in enumerate(rows, start=1))

    first = details["cited"][0]
    rows[0].find_element(By.TAG_NAME, "summary").click()
    text = wait.until(lambda d: rows[0].find_elements(By.CSS_SELECTOR, "pre.text"))
    assert text[0].get_attribute("textContent") == SNIPPETS[first][1]
    for row in rows[1:]:
        row.find_element(By.TAG_NAME, "summary").click()
    wait.until(lambda d: all(r.find_elements(By.CSS_SELECTOR, "pre.text, p.muted")
                             for r in rows))
    for row in rows:  # every text this report's prompts showed, exactly as shown
        shown = row.find_elements(By.CSS_SELECTOR, "pre.text")
        if shown:
            assert shown[0].get_attribute("textContent") == \
                SNIPPETS[row.get_attribute("data-snippet")][1]
        else:
            assert row.get_attribute("data-snippet") not in details["cited"]
    assert driver.find_elements(By.CSS_SELECTOR, "#item-list img, #item-list a") == []
    assert driver.title != "pwned"
    marks = driver.find_element(By.ID, "legend-marks")
    assert marks.is_displayed() and "cited" in marks.text and "referenced" in marks.text
    ARTIFACTS.mkdir(exist_ok=True)
    driver.execute_script("document.getElementById('items').scrollIntoView()")
    driver.save_screenshot(str(ARTIFACTS / "report-snippets.png"))
    assert_quiet_and_offline(driver, page)
