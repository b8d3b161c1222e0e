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
    """(IQM, CI low, CI high) of one group's per-seed values; NaNs dropped; NaNs when none is left.

    values: [seeds] one number per run. Stratified bootstrap over runs (one task: plain bootstrap).
    """
    import warnings

    from rliable import library, metrics

    scores = np.asarray(values, dtype=float)
    scores = scores[~np.isnan(scores)]
    if scores.size == 0:
        return (float("nan"),) * 3
    point = float(metrics.aggregate_iqm(scores[:, None]))
    if scores.size == 1:
        return point, point, point
    with warnings.catch_warnings():  # arch's notice that `random_state` will become `generator`
        warnings.simplefilter("ignore", FutureWarning)
        _, intervals = library.get_interval_estimates(
            {"x": scores[:, None]},
            lambda s: np.array([metrics.aggregate_iqm(s)]),
            reps=REPS,
            random_state=np.random.RandomState(SEED),
        )
    low, high = intervals["x"][:, 0]
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
    """'0.41 [0.33, 0.52]' (or '–' when there is no value)."""
    if np.isnan(iqm):
        return "–"
    return f"{iqm:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
