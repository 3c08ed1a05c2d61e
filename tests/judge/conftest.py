"""The `judges` fixture: scripted judges reachable as ``judgetest/<name>`` models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from judge_helpers import Judges, fresh_judges


@pytest.fixture
def judges() -> Iterator[Judges]:
    yield from fresh_judges()
