"""Aggregates over seeds as the field reports them: the interquartile mean (IQM) with a 95 % stratified
bootstrap confidence interval (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice",
NeurIPS 2021, via their `rliable` library), next to mean ± sd.

With few seeds the IQM's interval is wide, and that is the point: it says how little 3 seeds show.
The bootstrap draws from a fixed generator, so the same data always give the same table.
"""

from __future__ import annotations

import numpy as np

REPS = 2000  # bootstrap resamples
SEED = 0  # the bootstrap's own generator: tables are reproducible


def iqm_ci(values) -> tuple[float, float, float]:
    """(IQM, CI low, CI high) of one group's per-seed values; NaNs dropped; NaNs when none is left, and a
    NaN interval for a single value (one seed says nothing about spread).

    values: [seeds] one number per run. The IQM is rliable's `aggregate_iqm`; the interval is the
    percentile bootstrap over runs that rliable's `get_interval_estimates` computes for one task, drawn
    here from our own generator: rliable's `StratifiedBootstrap` ignores its `random_state` and draws from
    numpy's global generator, so its intervals changed from call to call. With 2–3 runs the IQM trims
    nothing and equals the mean.
    """
    from rliable import metrics
    from scipy.stats import trim_mean

    scores = np.asarray(values, dtype=float)
    scores = scores[~np.isnan(scores)]
    if scores.size == 0:
        return (float("nan"),) * 3
    point = float(metrics.aggregate_iqm(scores[:, None]))
    if scores.size == 1:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(SEED)
    resamples = scores[rng.integers(0, scores.size, (REPS, scores.size))]
    iqms = trim_mean(resamples, proportiontocut=0.25, axis=1)  # `aggregate_iqm` of each resample
    low, high = np.percentile(iqms, [2.5, 97.5])
    return point, float(low), float(high)


def iqm_columns(grouped, value: str, prefix: str | None = None):
    """`<prefix>_iqm`, `_iqm_lo`, `_iqm_hi` of `value` for each group of a pandas GroupBy (a DataFrame)."""
    import pandas as pd

    name = prefix or value
    stats = grouped[value].apply(lambda s: pd.Series(iqm_ci(s.to_numpy()), index=["iqm", "iqm_lo", "iqm_hi"]))
    frame = stats.unstack()
    frame.columns = [f"{name}_{c}" for c in frame.columns]
    return frame


def format_iqm(iqm: float, low: float, high: float, digits: int = 2) -> str:
    """'0.41 [0.33, 0.52]'; '0.41' without an interval (one seed); '–' when there is no value."""
    if np.isnan(iqm):
        return "–"
    if np.isnan(low) or np.isnan(high):
        return f"{iqm:.{digits}f}"
    return f"{iqm:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
