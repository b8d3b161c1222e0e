"""Table helpers shared by the reports: mean ± sd and IQM [95 % CI] over seeds, Markdown rendering."""

from __future__ import annotations

import pandas as pd


def summarise(rows: list[dict], keys: list[str], values: list[str]) -> pd.DataFrame:
    """Group `rows` by `keys`: `<value>_mean`, `<value>_sd` for each value, `seeds` (group size), then
    `<value>_iqm`, `<value>_iqm_lo`, `<value>_iqm_hi` (interquartile mean, 95 % bootstrap CI) and `<value>_n`
    (the seeds with a value: the statistics leave NaN out, and `markdown` says so where it did)."""
    from rllib_nsrl.analysis.aggregate import iqm_columns

    raw = pd.DataFrame(rows)
    stats = ("mean", "sd")
    if raw.empty:
        iqm = [f"{v}_{s}" for v in values for s in ("iqm", "iqm_lo", "iqm_hi")]
        return pd.DataFrame(columns=keys + [f"{v}_{s}" for v in values for s in stats] + ["seeds"] + iqm)
    grouped = raw.groupby(keys, sort=False)
    out = grouped[values].agg(["mean", "std"])
    out.columns = [f"{v}_{'mean' if s == 'mean' else 'sd'}" for v, s in out.columns]
    out["seeds"] = grouped.size()
    for v in values:
        out = out.join(iqm_columns(grouped, v))
    for v in values:
        out[f"{v}_n"] = grouped[v].count()
    return out.reset_index()


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table; `x_mean` / `x_sd` column pairs become one `x` column "mean ± sd", and
    `x_iqm` / `x_iqm_lo` / `x_iqm_hi` one `x IQM [95% CI]` column."""
    from rllib_nsrl.analysis.aggregate import format_iqm

    counts = {c for c in table.columns if c.endswith("_n") and c[:-2] + "_mean" in table.columns}
    cols = [c for c in table.columns if not c.endswith(("_sd", "_iqm_lo", "_iqm_hi")) and c not in counts]

    def cell(row, c):
        if c.endswith("_mean"):
            if pd.isna(row[c]):
                return "–"  # no seed has this value (e.g. an EQL metric of neural PPO)
            sd = row[c[:-5] + "_sd"]
            text = f"{row[c]:.{digits}f}" + ("" if pd.isna(sd) else f" ± {sd:.{digits}f}")
            n = row.get(c[:-5] + "_n")
            if "seeds" in row and n is not None and 0 < n < row["seeds"]:
                text += f" (n = {int(n)})"  # some seeds have no value here
            return text
        if c.endswith("_iqm"):
            return format_iqm(row[c], row[c + "_lo"], row[c + "_hi"], digits)
        return f"{row[c]:.{digits}f}" if isinstance(row[c], float) else str(row[c])

    def name(c):
        if c.endswith("_mean"):
            return c[:-5]
        return f"{c[:-4]} IQM [95% CI]" if c.endswith("_iqm") else c

    names = [name(c) for c in cols]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell(row, c) for c in cols) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)
