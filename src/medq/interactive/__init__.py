"""Interactive evaluation (MediQ, Li et al., NeurIPS 2024): an expert model that starts
from part of a case and must ask a simulated patient for the rest.

- `medq.interactive.case`: what an item knows about its patient (`case_of`).
- `medq.interactive.patient`: the simulated patient's variants (`make_patient`, `REFUSAL`).
- the expert is the strategy ``mediq`` (`medq.strategies.mediq`).
"""
