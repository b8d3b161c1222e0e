"""INSIGHT report (`nsrl analyze`): per condition, the neural and EQL actors' game scores and perception.

Files:
- `curves.csv`: condition, seed, iteration, env steps and every evaluation metric;
- `summary.csv` / `summary.md`: the last evaluation of each trial that has run its whole budget, mean ± sd
  and IQM [95 % CI] over seeds; unfinished trials (running or stopped) are listed under the table,
  not averaged in;
- `returns.png`: neural and EQL scores over env steps, mean ± sd over the seeds evaluated at each
  iteration, per condition;
- `pretrain.csv` / `pretrain.md`: per seed, the pre-trained perception's coordinate MAE in pixels on the
  test split, per slot, beside the untrained network's (read from the pre-training's `metrics.json` while
  it is still there);
- `at_steps.md`: mean ± sd and IQM of each return at a quarter, half and all of the budget (the
  evaluation at or just before each);
- `ablation.md`: each condition's final EQL return normalised to INSIGHT = 1 as
  (R − R_random) / (R_INSIGHT − R_random), R_random the published random-play score of the game;
- `perception.md`: coordinate MAE per slot, pre-trained and after policy learning per condition, and
  F-MAE, the MAE over the objects the pruned equations read.
The ablation and perception tables use the same finished trials as the summary.

Evaluations are placed by iteration: iteration × the PPO batch is a trial's nominal env-step count. The
sampled count (`num_env_steps_sampled_lifetime`) drifts a few steps per iteration from it, differently per
seed, so seeds are grouped by iteration and never by the sampled count.
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
MAIN = ("neural_return", "eql_return", "eql_greedy_return", "mae_px", "fmae_px", "eql_agreement")
RETURNS = ("neural_return", "eql_return", "eql_greedy_return")
# Random-play scores (Mnih et al. 2015, Extended Data Table 2), the zero of the normalised ablation.
RANDOM_SCORE = {"Pong": -20.7, "Freeway": 0.0, "Boxing": 0.1}


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


def pretrain_table(trials) -> pd.DataFrame:
    """One row per pre-trained perception the trials started from (seed, best epoch, MAE in pixels)."""
    import json

    rows, seen = [], set()
    for config, _ in trials:
        template = config.get("perception_weights")
        if not template:
            continue
        path = Path(str(template).replace("{seed}", str(config.get("seed")))).parent / "metrics.json"
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        m = json.loads(path.read_text())
        s = m["settings"]
        row = {"seed": str(s["seed"]), "epochs": str(s["epochs"]), "best_epoch": str(m["best_epoch"])}
        row["untrained_mae_px"] = m["untrained"]["mae_px"]
        row.update({k: v for k, v in m["best"].items() if k.startswith("mae_px")})
        rows.append(row)
    return pd.DataFrame(rows).sort_values("seed", key=lambda c: c.astype(int)) if rows else pd.DataFrame()


def _batch(spec: dict | None) -> int | None:
    """Env steps of one PPO iteration (envs × rollout length), or None without a spec."""
    ppo = (spec or {}).get("ppo") or {}
    if "num_envs" in ppo and "rollout_length" in ppo:
        return int(ppo["num_envs"]) * int(ppo["rollout_length"])
    return None


def _nominal_steps(long: pd.DataFrame, spec: dict | None) -> pd.Series:
    """iteration × batch (the sampled count when the spec does not give the batch)."""
    batch = _batch(spec)
    return long["iteration"] * batch if batch else long["env_steps"]


def _total(long: pd.DataFrame, spec: dict | None) -> int:
    return int(((spec or {}).get("ppo") or {}).get("total_steps") or long["nominal"].max())


def _reach(long: pd.DataFrame) -> dict:
    """(condition, seed) → how far the trial has run: its newest evaluation plus one evaluation interval
    (NaN with one evaluation so far: a trial's interval is known from two). A trial has run a budget once
    its reach is at least that budget; the newest evaluation may then sit up to one interval short of it."""
    return {
        key: group["nominal"].max() + group["nominal"].sort_values().diff().max()
        for key, group in long.groupby(["condition", "seed"], sort=False)
    }


def write_insight_report(trials, spec: dict, out: Path) -> list[Path]:
    """Write the files above into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    long = curves(trials)
    written = [out / "curves.csv"]
    long.to_csv(written[0], index=False)
    pre = pretrain_table(trials)
    if not pre.empty:
        pre.to_csv(out / "pretrain.csv", index=False)
        (out / "pretrain.md").write_text(
            "# Pre-trained perception: coordinate MAE (pixels), test split\n\n"
            + markdown(pre, 2)
            + "\n\nThe best epoch is chosen on this same split (as the reference code does), so these MAEs"
            " are slightly optimistic.\n"
        )
        written += [out / "pretrain.csv", out / "pretrain.md"]
    if long.empty:
        return written
    order = {c: i for i, c in enumerate(CONDITIONS)}
    long = long.sort_values(
        ["condition", "seed", "iteration"], key=lambda c: c.map(order) if c.name == "condition" else c
    )
    long["nominal"] = _nominal_steps(long, spec)
    total, reach = _total(long, spec), _reach(long)
    newest = long.groupby(["condition", "seed"], sort=False).tail(1)
    batch = _batch(spec)
    last_iteration = max(1, total // batch) if batch else None
    # finished: evaluated at the last iteration, or within one evaluation interval of the budget
    done = [
        (last_iteration is not None and r.iteration >= last_iteration)
        or reach[(r.condition, r.seed)] >= total
        for r in newest.itertuples()
    ]
    last, running = newest[done], newest[[not d for d in done]]
    game = (spec or {}).get("env", {}).get("game", "")
    lines = [f"# INSIGHT {game}: last evaluation of each finished trial (mean ± sd over seeds)", ""]
    if not last.empty:
        values = [v for v in MAIN if v in last and last[v].notna().any()]
        table = summarise(last.to_dict("records"), ["condition"], values)
        table.to_csv(out / "summary.csv", index=False)
        written.append(out / "summary.csv")
        lines.append(markdown(table, 2))
    else:
        lines.append(f"No trial has run its budget ({total:,} env steps) yet.")
    if not running.empty:
        still = "; ".join(
            f"{r.condition} seed {r.seed} (newest evaluation at iteration {r.iteration}, {r.nominal:,} steps)"
            for r in running.itertuples()
        )
        lines += ["", f"Not finished (running or stopped), not in this table: {still}."]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    written.append(out / "summary.md")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, metric, title in (
        (axes[0], "neural_return", "neural actor"),
        (axes[1], "eql_return", "EQL actor"),
    ):
        if metric not in long:
            continue
        for condition, group in long.groupby("condition", sort=False):
            stats = group.groupby("iteration").agg(
                x=("nominal", "mean"), mean=(metric, "mean"), std=(metric, "std")
            )
            if stats["mean"].notna().any():
                (line,) = ax.plot(stats["x"], stats["mean"], marker="o", label=condition)
                band = stats["std"].fillna(0.0)  # ± sd over the seeds evaluated at that iteration
                ax.fill_between(stats["x"], stats["mean"] - band, stats["mean"] + band, alpha=0.2,
                                color=line.get_color())  # fmt: skip
        ax.set_title(f"{game} {title}")
        ax.set_xlabel("env steps")
    axes[0].set_ylabel("game score")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    plt.close(fig)
    written.append(out / "returns.png")
    written += _at_steps(long, spec, out, game)
    if not last.empty:
        written += _ablation(last, out, game)
        written += _perception(last, pre, out, game)
    return written


def _at_steps(long: pd.DataFrame, spec: dict, out: Path, game: str) -> list[Path]:
    total, reach = _total(long, spec), _reach(long)
    rows = []
    # a trial counts at a budget once it has run that far (`_reach`): a trial still running is left out,
    # not shown early
    for frac in (0.25, 0.5, 1.0):
        target = int(total * frac)
        upto = long[long["nominal"] <= target]
        for (condition, seed), group in upto.groupby(["condition", "seed"], sort=False):
            if not reach[(condition, seed)] >= target:  # NaN (one evaluation so far) counts as not yet
                continue
            row = group.iloc[-1]
            rows.append({"condition": condition, "budget": f"{frac:.0%} ({target:,} steps)", "seed": seed,
                         **{k: row[k] for k in RETURNS if k in row}})  # fmt: skip
    if not rows:
        return []
    values = [k for k in RETURNS if any(pd.notna(r.get(k)) for r in rows)]
    table = summarise(rows, ["condition", "budget"], values)
    (out / "at_steps.md").write_text(
        f"# INSIGHT {game}: returns at fractions of the budget\n\n" + markdown(table, 2) + "\n"
    )
    return [out / "at_steps.md"]


def _ablation(last: pd.DataFrame, out: Path, game: str) -> list[Path]:
    if "INSIGHT" not in set(last["condition"]) or game not in RANDOM_SCORE:
        return []
    col = "eql_return"
    base = last[last["condition"] == "INSIGHT"][col].mean()
    rnd = RANDOM_SCORE[game]
    lines = [f"# INSIGHT {game}: final return normalised to INSIGHT = 1", "",
             f"(R − R_random) / (R_INSIGHT − R_random) with R_random = {rnd} (random play); R is the mean "
             "over seeds of the last evaluation: the EQL actor's sampled return (the neural actor's for "
             "neural PPO).", "",
             "| condition | R | normalised |", "|---|---|---|"]  # fmt: skip
    for condition, group in last.groupby("condition", sort=False):
        r = group[col].mean() if group[col].notna().any() else group["neural_return"].mean()
        norm = (r - rnd) / (base - rnd) if base != rnd else float("nan")
        lines.append(f"| {condition} | {r:.2f} | {norm:.2f} |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n")
    return [out / "ablation.md"]


def _perception(last: pd.DataFrame, pre: pd.DataFrame, out: Path, game: str) -> list[Path]:
    cols = [c for c in last.columns if c.startswith("mae_px")] + [c for c in ("fmae_px",) if c in last]
    if not cols:
        return []
    rows = []
    if not pre.empty:
        rows.append({"stage": "pre-trained", **{c: pre[c].mean() for c in cols if c in pre}})
    for condition, group in last.groupby("condition", sort=False):
        if group[cols].notna().any().any():
            rows.append({"stage": f"after RL: {condition}", **{c: group[c].mean() for c in cols}})
    table = pd.DataFrame(rows)
    (out / "perception.md").write_text(
        f"# INSIGHT {game}: coordinate MAE (pixels) on the test split, mean over seeds\n\n"
        + markdown(table, 2)
        + "\n"
    )
    return [out / "perception.md"]
