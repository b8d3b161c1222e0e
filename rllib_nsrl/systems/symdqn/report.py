"""SymDQN ablation report: the paper's appendix table and its two figures
(docs/systems/symdqn.md#paper-numbers).

Per trial, the evaluation score and negative ratio of each epoch, and the learner's SatAgg of the
axioms A1–A3 and reward-predictor MSE (symbolic conditions only), are smoothed with a rolling window
(paper: 5), then mean ± sd over seeds is taken per condition and epoch.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from rllib_nsrl.analysis.aggregate import format_iqm, iqm_columns  # noqa: E402
from rllib_nsrl.constants import NEGATIVE_RATIO, REWARD_PRED_MSE, SAT_SHAPES, SCORE  # noqa: E402
from rllib_nsrl.systems.symdqn.conditions import CONDITIONS, condition_of  # noqa: E402

SCORE_COL = f"evaluation/env_runners/{SCORE}"
NEG_COL = f"evaluation/env_runners/{NEGATIVE_RATIO}"
SAT_COL = f"learners/default_policy/{SAT_SHAPES}"
MSE_COL = f"learners/default_policy/{REWARD_PRED_MSE}"
TIME_COL = "time_this_iter_s"
METRICS = {"score": SCORE_COL, "negative_ratio": NEG_COL, "sat": SAT_COL, "reward_mse": MSE_COL}


# Paper appendix: score r ± sd, negative ratio p at epochs 50/150/250 (docs/systems/symdqn.md#paper-numbers).
PAPER = {
    "SymDQN(AF)": {"r": (0.65, 0.70, 0.71), "r_sd": (0.03, 0.01, 0.01), "p": (0.00, 0.00, 0.00)},
    "SymDQN(AR)": {"r": (0.26, 0.47, 0.53), "r_sd": (0.03, 0.01, 0.04), "p": (0.02, 0.01, 0.00)},
    "SymDQN": {"r": (0.43, 0.65, 0.66), "r_sd": (0.05, 0.02, 0.02), "p": (0.17, 0.12, 0.08)},
    "SymDQN(AR,AF)": {"r": (0.40, 0.53, 0.59), "r_sd": (0.02, 0.02, 0.02), "p": (0.00, 0.00, 0.00)},
    "DuelDQN": {"r": (0.24, 0.57, 0.64), "r_sd": (0.06, 0.02, 0.01), "p": (0.19, 0.14, 0.10)},
}
PAPER_EPOCHS = (50, 150, 250)
PAPER_EPOCH_EPISODES = 50  # the paper's epoch: 50 training episodes; other epoch sizes have no paper values


def curves(trials: list[tuple[dict, pd.DataFrame]], window: int) -> pd.DataFrame:
    """Long frame: condition, seed, epoch, score, negative_ratio, sat (SatAgg of A1–A3), reward_mse
    (rolling means per trial; sat and reward_mse NaN where the trial logs none, e.g. DuelDQN)."""
    rows = []
    for config, frame in trials:
        if frame.empty or SCORE_COL not in frame:
            continue
        # the window spans epochs, not rows: an epoch lost from the log (a damaged line) is a gap
        epochs = frame["training_iteration"].astype(int).to_numpy()
        full = pd.RangeIndex(int(epochs.min()), int(epochs.max()) + 1)
        f = pd.DataFrame({"epoch": epochs})
        for name, col in METRICS.items():
            values = frame[col].astype(float) if col in frame else pd.Series(float("nan"), index=frame.index)
            values = pd.Series(values.to_numpy(), index=epochs).reindex(full)
            f[name] = values.rolling(window, min_periods=1).mean().reindex(epochs).to_numpy()
        f["condition"], f["seed"] = condition_of(config), config.get("seed")
        rows.append(f)
    if not rows:
        return pd.DataFrame(columns=["condition", "seed", "epoch", *METRICS])
    return pd.concat(rows, ignore_index=True)


def summary_table(
    long: pd.DataFrame, epochs: list[int], train_episodes: int = PAPER_EPOCH_EPISODES
) -> pd.DataFrame:
    """condition × epoch: mean and sd over seeds of score, negative ratio, SatAgg(A1–A3) (`sat_*`) and
    reward-predictor MSE (`mse_*`), the score's IQM with its 95 % bootstrap CI (`score_iqm`, `_lo`, `_hi`),
    plus the paper's values (`paper_*`), NaN except at the epochs the paper reports: 50, 150 and 250, and
    only when an epoch has the paper's size (`train_episodes` 50)."""
    grouped = long[long["epoch"].isin(epochs)].groupby(["condition", "epoch"])
    stats = (
        grouped.agg(
            score_mean=("score", "mean"),
            score_sd=("score", "std"),
            neg_mean=("negative_ratio", "mean"),
            neg_sd=("negative_ratio", "std"),
            sat_mean=("sat", "mean"),
            sat_sd=("sat", "std"),
            mse_mean=("reward_mse", "mean"),
            mse_sd=("reward_mse", "std"),
            seeds=("seed", "nunique"),
        )
        .join(iqm_columns(grouped, "score"))
        .reset_index()
    )

    paper_sized = train_episodes == PAPER_EPOCH_EPISODES

    def paper(row, key):
        if paper_sized and row["condition"] in PAPER and row["epoch"] in PAPER_EPOCHS:
            return PAPER[row["condition"]][key][PAPER_EPOCHS.index(row["epoch"])]
        return float("nan")

    for col, key in (("paper_score", "r"), ("paper_score_sd", "r_sd"), ("paper_neg", "p")):
        stats[col] = stats.apply(lambda r, key=key: paper(r, key), axis=1)
    order = {c: i for i, c in enumerate(CONDITIONS)}
    return stats.sort_values(
        ["condition", "epoch"], key=lambda s: s.map(order) if s.name == "condition" else s
    )


def _pm(mean, sd, digits: int = 2) -> str:
    return f"{mean:.{digits}f}" if pd.isna(sd) else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def markdown(
    table: pd.DataFrame, window: int, eval_episodes: int, epochs: list[int], conditions: list[str]
) -> str:
    """The appendix-style table: one row per condition (dashes where no seed reached an epoch yet, and for
    SatAgg and reward MSE where the condition has no symbolic modules)."""
    head = ["condition", "seeds"] + [f"r@{e}" for e in epochs] + [f"p@{e}" for e in epochs]
    head += [f"SatAgg A1–A3 @{e}" for e in epochs] + [f"reward MSE @{e}" for e in epochs]
    head += [f"IQM r@{e} [95% CI]" for e in epochs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    has_paper = bool(table["paper_score"].notna().any())
    for cond in conditions:
        g = table[table["condition"] == cond].set_index("epoch")
        cells = [cond, str(int(g["seeds"].max())) if len(g) else "0"]
        for col, sd, pcol, psd in (
            ("score_mean", "score_sd", "paper_score", "paper_score_sd"),
            ("neg_mean", "neg_sd", "paper_neg", None),
            ("sat_mean", "sat_sd", None, None),
            ("mse_mean", "mse_sd", None, None),
        ):
            for e in epochs:
                if e not in g.index or pd.isna(g.at[e, col]):
                    cells.append("–")
                    continue
                cell = _pm(g.at[e, col], g.at[e, sd], digits=3 if col == "mse_mean" else 2)
                if pcol and not pd.isna(g.at[e, pcol]):
                    cell += f" (paper {_pm(g.at[e, pcol], g.at[e, psd] if psd else float('nan'))})"
                cells.append(cell)
        for e in epochs:
            row = g.loc[e] if e in g.index else None
            cells.append(
                "–" if row is None else format_iqm(row["score_iqm"], row["score_iqm_lo"], row["score_iqm_hi"])
            )
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        f"\nScore r and negative ratio p on {eval_episodes} evaluation episodes per epoch; SatAgg of the"
        " shape axioms A1–A3 (1 = satisfied) and the reward predictor's MSE as logged by the learner over the"
        f" epoch's updates (– without symbolic modules); rolling window {window} per seed, mean ± sd over"
        " seeds; IQM: interquartile mean over seeds (rliable; with 3 seeds or fewer it is the mean) with a"
        " 95 % percentile-bootstrap confidence interval over seeds (none for one seed)."
    )
    if has_paper:
        note += " Paper values from the SymDQN appendix."
    return "\n".join(lines) + "\n" + note + "\n"


def progress_note(long: pd.DataFrame, spec: dict) -> str:
    """A line saying how far an unfinished experiment got ('' once every trial reached its stop epoch)."""
    stop = int(spec["stop"]["epochs"])
    expected = len(spec.get("conditions", [])) * len(spec.get("seeds", []))
    reached = long.groupby(["condition", "seed"])["epoch"].max()
    if len(reached) >= expected and int(reached.min()) >= stop:
        return ""
    per_condition = "; ".join(
        f"{cond} [{', '.join(str(int(e)) for e in reached[cond].sort_index())}]"
        for cond in [c for c in CONDITIONS if c in reached.index.get_level_values(0)]
    )
    return (
        f"\n**Partial run**: {len(reached)} of {expected} trials have results, and the epochs reached "
        f"(of {stop}) per seed are: {per_condition}. Later epochs average fewer seeds.\n"
    )


def compute_table(trials: list[tuple[dict, pd.DataFrame]]) -> pd.DataFrame:
    """condition × (trials, epochs, trial hours, median seconds per epoch) from Tune's `time_this_iter_s`.

    Counts the epochs kept by `load_trials` (an epoch re-run after a resume counts once). Empty when
    the results carry no timings."""
    rows = []
    for config, frame in trials:
        if frame.empty or TIME_COL not in frame:
            continue
        seconds = frame[TIME_COL].astype(float).dropna()
        condition = condition_of(config)
        rows.append({"condition": condition, "epochs": len(seconds), "seconds": seconds})
    if not rows:
        return pd.DataFrame(columns=["condition", "trials", "epochs", "trial_hours", "median_s_per_epoch"])
    out = []
    for cond in [c for c in CONDITIONS if any(r["condition"] == c for r in rows)] + ["all"]:
        group = [r for r in rows if cond in ("all", r["condition"])]
        seconds = pd.concat([r["seconds"] for r in group], ignore_index=True)
        out.append(
            {
                "condition": cond,
                "trials": len(group),
                "epochs": int(sum(r["epochs"] for r in group)),
                "trial_hours": float(seconds.sum()) / 3600.0,
                "median_s_per_epoch": float(seconds.median()),
            }
        )
    return pd.DataFrame(out)


def compute_markdown(table: pd.DataFrame, concurrent: int) -> str:
    """The compute section of summary.md ('' without timings)."""
    if table.empty:
        return ""
    lines = [
        "",
        "## Compute",
        "",
        "| condition | trials | epochs | trial time (h) | median s / epoch |",
        "|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        cells = [r.condition, r.trials, r.epochs, f"{r.trial_hours:.2f}", f"{r.median_s_per_epoch:.0f}"]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    total = float(table[table["condition"] == "all"]["trial_hours"].iloc[0])
    note = (
        "Trial time is the sum of Tune's `time_this_iter_s` over the epochs with results: wall time inside"
        " the training epochs, including any time other work on the machine slowed or paused them, but"
        " not trial setup, restores, checkpoint saves or epochs lost to a crash and run again."
    )
    if concurrent > 0:
        wall = total / concurrent
        note += (
            f" With {concurrent} trial(s) at a time (`resources.max_concurrent_trials`), the trials need at"
            f" least {f'{wall:.1f} h' if wall >= 1 else f'{wall * 60:.0f} min'} of wall time."
        )
    return "\n".join([*lines, "", note, ""])


def plot(long: pd.DataFrame, metric: str, ylabel: str, path: Path, title: str, train_episodes: int) -> Path:
    """Plot mean ± sd over seeds of `metric` per epoch, one line per condition, under `title`, with epochs of
    `train_episodes` training episodes; saves and returns `path`."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for cond in [c for c in CONDITIONS if c in set(long["condition"])]:
        g = long[long["condition"] == cond].groupby("epoch")[metric]
        mean, sd = g.mean(), g.std().fillna(0.0)
        ax.plot(mean.index, mean.values, label=cond)
        ax.fill_between(mean.index, (mean - sd).values, (mean + sd).values, alpha=0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"epoch ({train_episodes} training episodes each)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_symdqn_report(trials, spec: dict, out: Path) -> list[Path]:
    """Write summary.csv/.md, curves.csv, compute.csv (when timed) and the two plots to `out`; their paths."""
    window = spec["analysis"]["window"]
    long = curves(trials, window)
    if long.empty:
        raise ValueError("no evaluation results yet")
    reached = int(long["epoch"].max())
    # Before the first analysis epoch: the last epoch every trial has, and the furthest one.
    common = int(long.groupby(["condition", "seed"])["epoch"].max().min())
    epochs = [e for e in spec["analysis"]["epochs"] if e <= reached] or sorted({common, reached})
    train_episodes = int(spec["epoch"]["train_episodes"])
    table = summary_table(long, epochs, train_episodes)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "summary.csv", out / "summary.md", out / "curves.csv"]
    table.to_csv(paths[0], index=False)
    wanted = set(spec.get("conditions") or []) | set(long["condition"])
    conditions = [c for c in CONDITIONS if c in wanted]  # a row for every condition of the spec
    text = markdown(table, window, spec["epoch"]["eval_episodes"], epochs, conditions)
    compute = compute_table(trials)
    concurrent = int(spec.get("resources", {}).get("max_concurrent_trials") or 0)
    paths[1].write_text(text + progress_note(long, spec) + compute_markdown(compute, concurrent))
    long.to_csv(paths[2], index=False)
    if compute.empty:
        (out / "compute.csv").unlink(missing_ok=True)  # no timings now: drop an earlier run's table
    else:
        paths.append(out / "compute.csv")
        compute.to_csv(paths[-1], index=False)
    seeds = int(long.groupby("condition")["seed"].nunique().max())
    about = f"{spec['epoch']['eval_episodes']} evaluation episodes per epoch, mean ± sd over {seeds} seed"
    about += "s" * (seeds != 1)
    for metric, ylabel, title in (
        ("score", "score (return / max return)", "Evaluation score"),
        ("negative_ratio", "negative ratio", "Negative shapes consumed / present"),
    ):
        paths.append(plot(long, metric, ylabel, out / f"{metric}.png", f"{title}\n{about}", train_episodes))
    return paths
