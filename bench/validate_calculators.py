"""Validate medq.calculators against every row of the MedCalc-Bench v1.0 test set.

For each row: map its "Relevant Entities" to the calculator's parameters, compute, and
score the result against the row's ground truth with the official tolerance
(medq.calculators.tolerance.is_correct). Prints overall and per-calculator agreement and
every disagreement with the computed value, the label and the reason the label is wrong.

    .venv/bin/python bench/validate_calculators.py [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from medq.calculators import CalculatorInputError, get_calculator, is_correct
from medq.calculators.medcalc_bench import EntityError, params_from_entities, parse_entities

DEFAULT = (
    Path(__file__).resolve().parents[2]
    / "shared" / "data" / "medcalc_bench" / "test-00000-of-00001.parquet"
)


@dataclass(frozen=True)
class RowResult:
    row: int
    calculator_id: int
    calculator: str
    answer: object
    ground_truth: str
    lower: str
    upper: str
    correct: bool
    error: str | None


# Why the label disagrees, per calculator: each reason was read from the rows' own
# Ground Truth Explanation (MedCalc-Bench v1.0), which shows the label's arithmetic.
LABEL_PROBLEMS: dict[int, str] = {
    3: "label uses the female kappa 0.7 for a male patient (explanation: 'A = 0.7 and "
       "B = -0.302'); CKD-EPI 2021 uses 0.9 for men",
    7: "label rounds moles to 3 decimals when converting calcium from mmol/L "
       "(2.26 mmol/L -> 8.0 mg/dL; correct 9.06; 2.6 mmol/L -> 10.0 instead of 10.4)",
    13: "label applies the cycle-length correction with the wrong sign: it adds "
        "(28 - cycle) days where Naegele's rule adds (cycle - 28); its own explanation "
        "says 'subtract' and then adds",
    15: "label never scores ascites (the explanation has no ascites step), so every "
        "total is 1-3 points low; the minimum Child-Pugh score is 5 with ascites absent",
    17: "the entities contradict each other: 'History of cerebrovascular disease' is True "
        "and 'Cerebrovascular disease history' False; the label reads only the False key, "
        "medq counts the documented history",
    21: "label adds the verbal response twice (explanation: two 'best verbal response' "
        "steps), so every label exceeds E+V+M by the verbal score",
    23: "label rounds MELD(i) to the nearest integer, not the tenth, before multiplying "
        "by 10 (row 341: 0.68 -> 1 -> 10; OPTN: 0.7 -> 7)",
    27: "label scores a hemoglobin exactly on a band limit into the lower band "
        "(12.0 g/dL in a woman, 13.0 g/dL in a man: Blatchford gives 0 points)",
    28: "label adds the GCS itself instead of 15 - GCS, reads Celsius temperatures as "
        "Fahrenheit (34.9 C -> 1.6 C -> 4 points) and scores WBC counts per uL as "
        "> 40 x10^9/L",
    29: "label reads a temperature recorded in 'degrees celsisus' as Fahrenheit "
        "(38.0 -> 3.3 C, +15 points)",
    32: "label gives every comorbidity 1 point whatever its Charlson weight (metastatic "
        "tumour 1 not 6, moderate-severe liver disease 1 not 3, end-organ diabetes 1 not "
        "2, localized tumour 1 not 2)",
    36: "label's running total resets to an earlier value after each item (explanation: "
        "'making the current total 5 + 4 = 9' then 'keeping the total at 4'), so most "
        "positive items are lost",
    43: "label divides PaO2 by FiO2 in percent (80/50 = 1.6, not 160), gives 2 "
        "cardiovascular points with no vasopressor (its 'dopamine <= 5' test matches "
        "dose 0), and drops the renal points when both creatinine and urine output exist",
    44: "label rounds moles to 3 decimals when converting mmol/L (4.75 mmol/L total "
        "cholesterol -> 193.3 mg/dL; correct 183.7)",
    46: "label puts cholesterol in mmol/L into the ATP III model whose coefficients "
        "are for mg/dL (ln(6.08) for 235 mg/dL), so risks come out near 0%",
    51: "label converts WBC counts per uL to per m^3 and compares them with 12,000, so "
        "the WBC criterion is always met (row 607: WBC is the only criterion met, but the "
        "label's running total goes from 0 to '1 + 1 = 2')",
}


def load_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def validate_row(row: dict) -> RowResult:
    """Compute one row's calculator from its entities and score it."""
    calc = get_calculator(int(row["Calculator ID"]))
    answer: object = None
    error = None
    try:
        args = params_from_entities(calc.medcalc_id or 0, parse_entities(row["Relevant Entities"]))
        answer = calc.compute(args).value
        correct = is_correct(calc.output, answer, row["Ground Truth Answer"],
                             row["Lower Limit"], row["Upper Limit"])
    except (CalculatorInputError, EntityError) as exc:
        error, correct = str(exc), False
    return RowResult(
        row=int(row["Row Number"]), calculator_id=int(row["Calculator ID"]),
        calculator=calc.name, answer=answer, ground_truth=row["Ground Truth Answer"],
        lower=row["Lower Limit"], upper=row["Upper Limit"], correct=correct, error=error,
    )


def validate(rows: list[dict]) -> list[RowResult]:
    return [validate_row(row) for row in rows]


def _fmt(answer: object) -> str:
    return f"{answer:.3f}" if isinstance(answer, float) else str(answer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT, help="the v1.0 test parquet")
    args = parser.parse_args(argv)
    results = validate(load_rows(args.data))
    by_calc: dict[tuple[int, str], list[RowResult]] = defaultdict(list)
    for r in results:
        by_calc[(r.calculator_id, r.calculator)].append(r)
    n_ok = sum(r.correct for r in results)
    unexplained = [r for r in results if not r.correct and r.calculator_id not in
                   LABEL_PROBLEMS]
    clean = [r for r in results if r.calculator_id not in LABEL_PROBLEMS or r.correct]
    print(f"overall: {n_ok}/{len(results)} = {100 * n_ok / len(results):.2f}% of rows agree")
    print(f"rows not explained by a documented label problem: {len(unexplained)}; "
          f"agreement on the other rows: {n_ok}/{len(clean)}")
    print("\n| id | calculator | agree / rows | label problem (disagreeing rows) |")
    print("|---:|---|---:|---|")
    for (cid, name), rs in sorted(by_calc.items()):
        ok = sum(r.correct for r in rs)
        bad = [str(r.row) for r in rs if not r.correct]
        note = f"{LABEL_PROBLEMS.get(cid, 'unexplained')} (rows {', '.join(bad)})" if bad else ""
        print(f"| {cid} | {name} | {ok}/{len(rs)} | {note} |")
    print("\ndisagreements (computed by medq vs label [lower, upper]):")
    for r in results:
        if not r.correct:
            got = f"error: {r.error}" if r.error else f"medq {_fmt(r.answer)}"
            print(f"- row {r.row}, {r.calculator_id} {r.calculator}: {got}; label "
                  f"{r.ground_truth} [{r.lower}, {r.upper}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
