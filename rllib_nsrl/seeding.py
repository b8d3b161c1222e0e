"""One seed-derivation rule: independent, reproducible child seeds from a run seed and integer keys."""

from __future__ import annotations

import numpy as np


def derive_seed(*key: int, below: int = 2**32) -> int:
    """A seed in [0, below) from integer `key`s (e.g. run seed, task, shard) via numpy's SeedSequence:
    distinct keys give statistically independent streams, the same keys the same seed."""
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1)[0]) % below
