"""The page for clinicians in a real browser: headless Chromium through selenium, against
the live server. Asserts the page loads with no console error and no request leaving the
server, every control has a label, a refused key says so, a free-text question shows the
answer, the confidence bar and the citations (expandable, with their snippets), hostile
option text renders as text, and a split vote shows an abstention with its evidence.
Saves screenshots to artifacts/.

Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them);
without them the test skips locally and fails under CI, as the report's browser test does.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from serve_helpers import LiveServer
from tests.browser import chromium_driver

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"> <b>bold</b>"


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    yield from chromium_driver(tmp_path, monkeypatch, "1280,1600")


def test_the_page_in_chromium(driver, live: LiveServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get_log("performance")
    driver.get(live.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "key-status").text)
    assert "No key yet" in driver.find_element(By.ID, "key-status").text
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)")
    assert unlabelled == []

    # A refused key is said to be refused.
    key_box = driver.find_element(By.ID, "key")
    key_box.send_keys("mq-aaaaaaaaaaaa." + "x" * 43, Keys.ENTER)
    wait.until(lambda d: "refused" in d.find_element(By.ID, "key-status").text)
    refused = [e["message"] for e in driver.get_log("browser")]
    assert len(refused) == 1 and "/v1/models" in refused[0] and "401" in refused[0]

    token = live.key("pipeline:rag-sc,pipeline:split,pipeline:direct")
    key_box.send_keys(token, Keys.ENTER)  # the keyboard alone: type, Enter
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#pipeline option")) == 3)
    assert key_box.get_attribute("value") == ""  # the key is not left in the field
    Select(driver.find_element(By.ID, "pipeline")).select_by_value("rag-sc")
    assert "self_consistency" in driver.find_element(By.ID, "pipeline-info").text

    stem = f"What does the glianorex regulate? (page {uuid.uuid4().hex[:8]})"
    driver.find_element(By.ID, "question").send_keys(
        stem + "\nA. Bone growth\nB. Mood and emotional balance\nC. Hair colour")
    driver.find_element(By.ID, "ask").click()
    wait.until(lambda d: d.find_element(By.ID, "result").is_displayed())
    verdict = driver.find_element(By.ID, "verdict")
    assert verdict.text == "B. Mood and emotional balance"
    assert "answered" in verdict.get_attribute("class")
    assert "Confidence 1.00 (vote share: 3 of 3 samples)" in driver.find_element(
        By.ID, "confidence-text").text
    fill = driver.find_element(By.ID, "confidence-fill").value_of_css_property("width")
    bar = driver.find_element(By.ID, "confidence-bar").value_of_css_property("width")
    assert abs(float(fill[:-2]) - float(bar[:-2])) < 1.5  # confidence 1.0: a full bar
    assert driver.find_element(By.ID, "threshold-mark").is_displayed()
    citations = driver.find_elements(By.CSS_SELECTOR, "#citations li.citation")
    assert len(citations) == 8
    assert all(c.get_attribute("data-id") in live.corpus_ids for c in citations)
    cited = [c for c in citations if "cited" in c.get_attribute("class").split()]
    assert [c.find_element(By.TAG_NAME, "summary").text.split("]")[0] for c in cited] == [
        "[1", "[2"]
    assert not citations[0].find_element(By.CSS_SELECTOR, "pre.snippet").is_displayed()
    citations[0].find_element(By.TAG_NAME, "summary").click()  # expand the first snippet
    snippet = citations[0].find_element(By.CSS_SELECTOR, "pre.snippet")
    assert snippet.is_displayed() and len(snippet.text) > 50
    provenance = driver.find_element(By.ID, "provenance").text
    assert "rag-sc" in provenance and "3 made now" in provenance
    assert driver.execute_script(
        "const e = document.documentElement; return e.scrollWidth <= e.clientWidth + 1")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.set_window_size(1280, 2400)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ARTIFACTS / "serve-page.png"))

    # Hostile option text is shown as text.
    Select(driver.find_element(By.ID, "pipeline")).select_by_value("direct")
    question_box = driver.find_element(By.ID, "question")
    question_box.clear()
    question_box.send_keys(f"Which? ({uuid.uuid4().hex[:8]})\nA. one\nB. two\nC. {HOSTILE}")
    driver.find_element(By.ID, "ask").click()
    wait.until(lambda d: d.find_element(By.ID, "verdict").text.startswith("C. "))
    assert driver.find_element(By.ID, "verdict").text == f"C. {HOSTILE}"
    assert driver.find_elements(By.CSS_SELECTOR, "#result img, #result b") == []
    assert driver.title != "pwned"

    # A vignette with options; the split vote abstains and still shows its evidence.
    driver.find_element(By.ID, "mode-vignette").click()
    assert driver.find_element(By.ID, "stem").is_displayed()
    Select(driver.find_element(By.ID, "pipeline")).select_by_value("split")
    driver.find_element(By.ID, "stem").send_keys(
        f"A patient with glianorex dysplasia ({uuid.uuid4().hex[:8]}): what is affected?")
    for letter, text in zip("ABC", ("Bone growth", "Mood", "Hair colour"), strict=False):
        driver.find_element(By.ID, f"option-{letter}").send_keys(text)
    driver.find_element(By.ID, "ask").click()
    wait.until(lambda d: "abstained" in d.find_element(By.ID, "verdict").get_attribute("class"))
    verdict = driver.find_element(By.ID, "verdict").text
    assert verdict.startswith("No answer: the pipeline abstained")
    assert "0.70" in verdict and "Votes: A 3 · B 2" in driver.find_element(By.ID, "votes").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#citations li.citation")) == 8
    driver.save_screenshot(str(ARTIFACTS / "serve-page-abstained.png"))

    errors = [e for e in driver.get_log("browser") if e["level"] in {"SEVERE", "ERROR"}]
    assert errors == []
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    internal = ("data:", "chrome:", "chrome-untrusted:")
    outside = [u for u in requests if not u.startswith((live.url, *internal))]
    assert outside == []
    assert f"{live.url}/v1/chat/completions" in requests
