"""The HTML report in a real browser: headless Chromium through selenium and chromedriver.

Asserts that the page loads with no console errors and no request leaving the page, that
the summary shows `summarize`'s numbers, that the "wrong" filter shows exactly the wrong
items, and that hostile model output renders as text. Saves a screenshot to artifacts/.

Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run` installs them).
Without them the test skips locally and fails under CI (CI set), so CI cannot skip it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

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
CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1800",
)


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = _binary("chromium", "/usr/bin/chromium", "chromium-browser")
    chromedriver = _binary("chromedriver", "/usr/bin/chromedriver")
    if chromium is None or chromedriver is None:
        reason = "chromium and chromium-driver are not installed (apt-get install chromium " \
                 "chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser test")
        pytest.skip(reason)
    monkeypatch.setenv("SE_AVOID_STATS", "true")  # Selenium Manager must not phone home
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=chromedriver)
    browser = webdriver.Chrome(options=options, service=service)
    try:
        yield browser
    finally:
        browser.quit()


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

    # No console errors (CSP violations included), and no request left the page.
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
    outside = [url for _, url in requests if not url.startswith(("file:", "data:", "chrome:"))]
    assert outside == []
