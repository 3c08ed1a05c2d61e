"""Row-level agreement with the MedCalc-Bench v1.0 test set (needs ../shared/data).

Every disagreement measured is a documented label problem (see bench/validate_calculators.py
and BENCHMARKS.md); the floors below are the measured agreement, so a regression in any
calculator or in the entity adapter fails here.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest

from medq.calculators import CalculatorInputError, get_calculator, is_correct
from medq.calculators.medcalc_bench import params_from_entities, parse_entities

# Calculator id -> rows that agree, where below all rows (measured; see BENCHMARKS.md).
FLOORS = {3: 18, 7: 17, 13: 5, 15: 5, 17: 7, 21: 0, 23: 1, 27: 17, 28: 0, 29: 18, 32: 4,
          36: 0, 43: 1, 44: 18, 46: 0, 51: 10}
TOTAL_AGREEING = 868


@functools.cache
def _load(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.fixture
def rows(shared_data: Path) -> list[dict]:
    pytest.importorskip("pyarrow.parquet")
    return _load(shared_data / "medcalc_bench" / "test-00000-of-00001.parquet")


def _agrees(row: dict) -> bool:
    calc = get_calculator(int(row["Calculator ID"]))
    args = params_from_entities(int(row["Calculator ID"]),
                                parse_entities(row["Relevant Entities"]))
    try:
        answer = calc.compute(args).value
    except CalculatorInputError:
        return False
    return is_correct(calc.output, answer, row["Ground Truth Answer"], row["Lower Limit"],
                      row["Upper Limit"])


def test_row_agreement_meets_measured_floors(rows: list[dict]) -> None:
    assert len(rows) == 1047
    agree: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for row in rows:
        cid = int(row["Calculator ID"])
        total[cid] += 1
        agree[cid] += _agrees(row)
    assert len(total) == 55
    for cid, n in total.items():
        assert agree[cid] >= FLOORS.get(cid, n), (cid, agree[cid], n)
    assert sum(agree.values()) >= TOTAL_AGREEING


def test_every_row_maps_to_valid_parameters(rows: list[dict]) -> None:
    for row in rows:
        calc = get_calculator(int(row["Calculator ID"]))
        args = params_from_entities(calc.medcalc_id or 0,
                                    parse_entities(row["Relevant Entities"]))
        calc.validate(args)  # raises, naming the parameter, if the adapter is wrong
