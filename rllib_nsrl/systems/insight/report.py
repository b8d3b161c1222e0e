"""INSIGHT report (`nsrl analyze`): per condition, the neural and EQL actors' game scores and perception.

Files: `curves.csv` (condition, seed, iteration, env steps, every evaluation metric), `summary.csv` /
`summary.md` (the last evaluation of each trial: mean ± sd and IQM [95 % CI] over seeds), `returns.png`
(neural and EQL scores over env steps, mean over seeds per condition).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from rllib_nsrl.analysis.tables import markdown, summarise  # noqa: E402
from rllib_nsrl.systems.insight.conditions import CONDITIONS  # noqa: E402

PREFIX = "insight/"
STEPS = "num_env_steps_sampled_lifetime"
MAIN = ("neural_return", "eql_return", "eql_greedy_return", "mae_px", "eql_agreement")


def curves(trials) -> pd.DataFrame:
    """Long frame: one row per evaluation of each trial."""
    rows = []
    for config, frame in trials:
        cols = [c for c in frame.columns if c.startswith(PREFIX)]
        if frame.empty or not cols:
            continue
        evals = frame.dropna(subset=cols, how="all")
        f = evals[cols].rename(columns=lambda c: c[len(PREFIX) :]).astype(float)
        f.insert(0, "env_steps", evals[STEPS].astype(int) if STEPS in evals else 0)
        f.insert(0, "iteration", evals["training_iteration"].astype(int))
        f.insert(0, "seed", config.get("seed"))
        f.insert(0, "condition", config.get("condition"))
        rows.append(f)
    return (
        pd.concat(rows, ignore_index=True)
        if rows
        else pd.DataFrame(columns=["condition", "seed", "iteration"])
    )


def write_insight_report(trials, spec: dict, out: Path) -> list[Path]:
    """Write the files above into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    long = curves(trials)
    written = [out / "curves.csv"]
    long.to_csv(written[0], index=False)
    if long.empty:
        return written
    order = {c: i for i, c in enumerate(CONDITIONS)}
    long = long.sort_values(
        ["condition", "seed", "iteration"], key=lambda c: c.map(order) if c.name == "condition" else c
    )
    last = long.groupby(["condition", "seed"], sort=False).tail(1)
    values = [v for v in MAIN if v in last and last[v].notna().any()]
    table = summarise(last.to_dict("records"), ["condition"], values)
    table.to_csv(out / "summary.csv", index=False)
    game = (spec or {}).get("env", {}).get("game", "")
    (out / "summary.md").write_text(
        f"# INSIGHT {game}: last evaluation of each trial (mean ± sd over seeds)\n\n"
        + markdown(table, 2)
        + "\n"
    )
    written += [out / "summary.csv", out / "summary.md"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, metric, title in (
        (axes[0], "neural_return", "neural actor"),
        (axes[1], "eql_return", "EQL actor"),
    ):
        if metric not in long:
            continue
        for condition, group in long.groupby("condition", sort=False):
            mean = group.groupby("env_steps")[metric].mean()
            if mean.notna().any():
                ax.plot(mean.index, mean.values, marker="o", label=condition)
        ax.set_title(f"{game} {title}")
        ax.set_xlabel("env steps")
    axes[0].set_ylabel("game score")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    plt.close(fig)
    written.append(out / "returns.png")
    return written
