"""The one seed-derivation rule gives the seeds the three copies it replaced gave."""

import numpy as np

from rllib_nsrl.seeding import derive_seed


def test_derive_seed_equals_the_replaced_formulas():
    for key in [(0,), (3, 1, 4), (2**31 - 1, 7, 1_000_000)]:
        state = int(np.random.SeedSequence(list(key)).generate_state(1)[0])
        assert derive_seed(*key) == state  # ILP protocol, BlocksWorld collection
        assert derive_seed(*key, below=2**31) == state % 2**31  # BlocksWorld trainable
    assert derive_seed(1, 2) != derive_seed(2, 1)
