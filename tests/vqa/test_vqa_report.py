"""The report's item browser shows an item's image (a JPEG thumbnail as a data URL)."""

from __future__ import annotations

import base64
import io
import re
import sys
from pathlib import Path

import pytest

from medq.report import build_report
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel

pytest.importorskip("PIL")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from test_report import items_of  # noqa: E402
from test_report_browser import driver  # noqa: E402, F401 - the browser fixture


def _vqa_run(store: Store) -> str:
    model = ScriptedModel(lambda r: "yes", vision=True)
    spec = EvalSpec(task="vqa_rad", model="scripted/x", sample=True, strategy="short_answer")
    return evaluate(spec, store=store, model=model, progress=False).run_id


def test_item_data_carries_thumbnails(medq_home: Path) -> None:
    from PIL import Image as PILImage

    with Store() as store:
        run_id = _vqa_run(store)
        html = build_report(store, [run_id])
    data = items_of(html)
    assert len(data["items"]) == 14
    urls = [data["strings"][i] for item in data["items"] for i in item["im"]]
    assert len(urls) == 14 and len(set(urls)) == 6  # six images, each stored once
    for url in set(urls):
        assert url.startswith("data:image/jpeg;base64,")
        with PILImage.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as picture:
            assert max(picture.size) <= 384
    assert "img-src data:" in html


def test_browser_shows_the_image(medq_home: Path, tmp_path: Path, driver) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with Store() as store:
        page = tmp_path / "report.html"
        page.write_text(build_report(store, [_vqa_run(store)]), encoding="utf-8")
    driver.get(page.as_uri())
    wait = WebDriverWait(driver, 20)
    wait.until(lambda d: d.find_element(By.ID, "item-count").get_attribute("data-count") == "14")
    driver.find_element(By.CSS_SELECTOR, "#item-list details.item summary").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#item-list img.item-image"))
    image = driver.find_element(By.CSS_SELECTOR, "#item-list img.item-image")
    assert re.match(r"data:image/jpeg;base64,", image.get_attribute("src") or "")
    wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
