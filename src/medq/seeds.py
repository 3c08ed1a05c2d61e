"""medq's one seed policy: how the run's seed becomes every random choice.

- A run has one seed (``--seed``); strategies receive it as their ``seed`` parameter and
  send it with every request.
- Repeated samples of one prompt are told apart by the request's ``sample_index``; a
  backend turns (seed, sample_index) into what it needs with `wire_seed` (servers: vLLM
  returns identical text for an identical prompt and seed) or `row_seed` (local sampling,
  one generator per returned row).
- Several samples of one request asked in one call (``n``, `medq.coalesce`): samples
  i..i+k-1 go out with n = k and sample i's seed, ``wire_seed(seed, i)``; vLLM seeds
  choice j with ``seed + j``, which is ``wire_seed(seed, i + j)``, so they are the samples
  asked alone.
- A strategy's own random choice about an item (exemplars drawn at random, option
  shuffles) comes from `item_rng`, seeded by the run seed, the item and the purpose, so it
  does not depend on which other items run, or in which order.
"""

from __future__ import annotations

import hashlib
import random


def wire_seed(seed: int, sample_index: int) -> int:
    """The seed sent to a server for sample `sample_index` of a request seeded `seed`."""
    return seed + sample_index


def row_seed(seed: int, sample_index: int, row: int) -> int:
    """A 63-bit generator seed for row `row` of sample `sample_index` (local backends)."""
    digest = hashlib.sha256(f"{seed}:{sample_index}:{row}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def item_rng(seed: int, item_id: str, purpose: str = "") -> random.Random:
    """A random source for one item's choice (`purpose` names it: ``shuffle`` …)."""
    key = f"{seed}:{item_id}:{purpose}" if purpose else f"{seed}:{item_id}"
    return random.Random(key)
