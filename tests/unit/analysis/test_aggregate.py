"""IQM with its bootstrap interval (rliable), and how tables print it."""

import math

from rllib_nsrl.analysis.aggregate import format_iqm, iqm_ci


def test_one_seed_has_a_point_but_no_interval():
    """One run says nothing about spread: the interval is NaN and the table prints the value alone."""
    for values in ([0.4], [0.4, float("nan")]):
        point, low, high = iqm_ci(values)
        assert point == 0.4 and math.isnan(low) and math.isnan(high)
    assert format_iqm(0.4, float("nan"), float("nan")) == "0.40"
    assert format_iqm(float("nan"), float("nan"), float("nan")) == "–"


def test_several_seeds_get_a_reproducible_interval_around_the_iqm():
    values = [0.1, 0.3, 0.35, 0.4, 0.9]
    point, low, high = iqm_ci(values)
    assert low <= point <= high and low < high
    assert iqm_ci(values) == (point, low, high)  # a fixed generator: the same table every time
    assert format_iqm(point, low, high) == f"{point:.2f} [{low:.2f}, {high:.2f}]"


def test_the_bootstrap_leaves_numpy_global_generator_alone():
    """rliable's bootstrap drew from `np.random`; ours has its own generator, so analysing results neither
    depends on nor moves the global state."""
    import numpy as np

    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    first = iqm_ci([0.2, 0.5, 0.7])
    assert np.random.rand() == expected
    np.random.seed(123)
    assert iqm_ci([0.2, 0.5, 0.7]) == first
