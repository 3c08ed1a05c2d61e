"""Fixtures for the probe tests: the toy tasks registered, a store in the temp home."""

from __future__ import annotations

from pathlib import Path

import pytest
import tests.probes.toy  # noqa: F401 - registers the toy tasks

from medq.store import Store


@pytest.fixture
def store(medq_home: Path):
    with Store() as s:
        yield s
