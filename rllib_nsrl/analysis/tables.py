"""Table helpers shared by the lifelong reports: mean ± sd over seeds, Markdown rendering."""

from __future__ import annotations

import pandas as pd


def summarise(rows: list[dict], keys: list[str], values: list[str]) -> pd.DataFrame:
    """Group `rows` by `keys`: `<value>_mean`, `<value>_sd` for each value, and `seeds` (group size)."""
    raw = pd.DataFrame(rows)
    if raw.empty:
        return pd.DataFrame(columns=keys + [f"{v}_{s}" for v in values for s in ("mean", "sd")] + ["seeds"])
    grouped = raw.groupby(keys, sort=False)
    out = grouped[values].agg(["mean", "std"])
    out.columns = [f"{v}_{'mean' if s == 'mean' else 'sd'}" for v, s in out.columns]
    out["seeds"] = grouped.size()
    return out.reset_index()


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A Markdown table; `x_mean` / `x_sd` column pairs become one `x` column "mean ± sd"."""
    cols = [c for c in table.columns if not c.endswith("_sd")]

    def cell(row, c):
        if c.endswith("_mean"):
            sd = row[c[:-5] + "_sd"]
            return f"{row[c]:.{digits}f}" + ("" if pd.isna(sd) else f" ± {sd:.{digits}f}")
        return f"{row[c]:.{digits}f}" if isinstance(row[c], float) else str(row[c])

    names = [c[:-5] if c.endswith("_mean") else c for c in cols]
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell(row, c) for c in cols) + " |" for _, row in table.iterrows()]
    return "\n".join(lines)
