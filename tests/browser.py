"""Headless Chromium for the browser tests (the report and the serving page)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BASE_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


def chromium_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    window: str) -> Iterator[Any]:
    """A logged, offline headless Chromium of `window` size ("W,H"); skips without one
    (fails under CI, which must run the browser tests)."""
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
    for flag in (*BASE_FLAGS, f"--window-size={window}"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=chromedriver)
    browser = webdriver.Chrome(options=options, service=service)
    try:
        yield browser
    finally:
        browser.quit()
