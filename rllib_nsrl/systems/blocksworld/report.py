"""Report of offline lifelong BlocksWorld runs (Neuro-Logic Lifelong Learning, RL part;
docs/systems/blocksworld.md).

Input: one `(config, frame)` per trial, `config` with `mode`, `seed`, `tasks`, `evaluation`, and `frame` the
per-iteration metrics of `blocks_trainable` (`task_index`, `task`, `updates_in_task`, `eval_steps`,
`eval_success`, `gen_steps/T`, `gen_success/T`). Statistics are mean ± sd over the seeds of a mode.

Writes `steps_to_goal_curves.csv` (every evaluation), `convergence.csv` (per task: mean steps over the
task's evaluations — lower is faster —, final steps and success, updates until the success rate first
reaches `success_threshold`), `generalisation.csv` (final 6-block vs `generalisation.num_blocks` scores),
`steps_to_goal.png`, `success_rate.png` and `blocks_report.md`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd

from rllib_nsrl.analysis.tables import markdown, summarise  # noqa: E402

MODE_ORDER = ("individual", "lifelong")
KEYS = ["task_index", "task", "mode"]


def _runs(trials) -> list[dict]:
    runs = []
    for config, frame in trials:
        if frame.empty or "eval_steps" not in frame:
            continue
        gen_blocks = (config.get("generalisation") or {}).get("num_blocks")
        runs.append(
            {"mode": config["mode"], "seed": config.get("seed", 0), "gen_blocks": gen_blocks, "frame": frame}
        )
    if not runs:
        raise ValueError("no trial has reported an evaluation yet")
    return runs


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(MODE_ORDER)}
    by = [k for k in ("task_index", "updates_in_task") if k in table] + ["_mode"]
    table = table.assign(_mode=table["mode"].map(lambda m: rank.get(m, len(rank))))
    return table.sort_values(by, kind="stable").drop(columns="_mode").reset_index(drop=True)


def curves(runs) -> pd.DataFrame:
    """Steps to the goal and success rate at every evaluation, per (task, mode, updates in task)."""
    rows = [
        {
            "task_index": int(r["task_index"]),
            "task": r["task"],
            "mode": run["mode"],
            "updates_in_task": int(r["updates_in_task"]),
            "steps": float(r["eval_steps"]),
            "success": float(r["eval_success"]),
        }
        for run in runs
        for _, r in run["frame"].iterrows()
    ]
    return _ordered(summarise(rows, KEYS + ["updates_in_task"], ["steps", "success"]))


def convergence(runs, success_threshold: float) -> pd.DataFrame:
    """Per (task, mode), mean ± sd over seeds: mean and final steps, final success and updates until the
    success rate first reaches `success_threshold`; `reached`: the seeds that reached it.
    """
    rows = []
    for run in runs:
        for k, seg in run["frame"].groupby("task_index", sort=True):
            seg = seg.sort_values("updates_in_task")
            hit = np.flatnonzero(seg["eval_success"].to_numpy() >= success_threshold)
            rows.append(
                {
                    "task_index": int(k),
                    "task": seg["task"].iloc[0],
                    "mode": run["mode"],
                    "mean_steps": float(seg["eval_steps"].mean()),
                    "final_steps": float(seg["eval_steps"].iloc[-1]),
                    "final_success": float(seg["eval_success"].iloc[-1]),
                    "updates_to_success": float(seg["updates_in_task"].iloc[hit[0]]) if len(hit) else np.nan,
                    "reached": int(len(hit) > 0),
                }
            )
    values = ["mean_steps", "final_steps", "final_success", "updates_to_success"]
    table = _ordered(summarise(rows, KEYS, values))
    if rows:
        reached = pd.DataFrame(rows).groupby(KEYS, sort=False)["reached"].sum().reset_index()
        table = table.merge(reached, on=KEYS, how="left")
    return table


def generalisation(runs) -> pd.DataFrame:
    """Final evaluation of each task's model on the training block count and on the larger one."""
    rows = []
    for run in runs:
        f = run["frame"]
        for k, seg in f.groupby("task_index", sort=True):
            task = seg["task"].iloc[0]
            column = f"gen_steps/{task}"
            if column not in f or f[column].isna().all():
                continue
            end = seg.sort_values("updates_in_task").iloc[-1]
            rows.append(
                {
                    "task_index": int(k),
                    "task": task,
                    "mode": run["mode"],
                    "gen_blocks": run["gen_blocks"],
                    "steps": float(end["eval_steps"]),
                    "success": float(end["eval_success"]),
                    "gen_steps": float(f[column].dropna().iloc[-1]),
                    "gen_success": float(f[f"gen_success/{task}"].dropna().iloc[-1]),
                }
            )
    return _ordered(summarise(rows, KEYS + ["gen_blocks"], ["steps", "success", "gen_steps", "gen_success"]))


def _plot(table: pd.DataFrame, value: str, ylabel: str, path: Path) -> Path:
    tasks = list(dict.fromkeys(zip(table["task_index"], table["task"], strict=True)))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.2), squeeze=False)
    for ax, (k, task) in zip(axes[0], tasks, strict=True):
        sub = table[table["task_index"] == k]
        modes = [m for m in MODE_ORDER if m in set(sub["mode"])] + sorted(set(sub["mode"]) - set(MODE_ORDER))
        for mode in modes:
            c = sub[sub["mode"] == mode]
            x, mean, sd = c["updates_in_task"], c[f"{value}_mean"], c[f"{value}_sd"].fillna(0.0)
            ax.plot(x, mean, marker=".", label=mode)
            ax.fill_between(x, mean - sd, mean + sd, alpha=0.2)
        ax.set(title=f"task {k}: {task}", xlabel="updates in task", ylabel=ylabel)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_blocks_report(
    trials: list[tuple[dict, pd.DataFrame]], out_dir: Path, success_threshold: float = 0.9
) -> list[Path]:
    """Write the CSV tables, the PNG curves and one Markdown summary; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = _runs(trials)
    curve_table = curves(runs)
    tables = {
        "steps_to_goal_curves": (
            "steps to the goal at every evaluation (failures count max_steps)",
            curve_table,
        ),
        "convergence": (
            f"convergence per task (updates_to_success: first evaluation with success ≥ {success_threshold})",
            convergence(runs, success_threshold),
        ),
        "generalisation": (
            "final model of each task on the training and the larger block count",
            generalisation(runs),
        ),
    }
    written, md = [], ["# Offline lifelong BlocksWorld report", ""]
    for stem, (title, table) in tables.items():
        path = out_dir / f"{stem}.csv"
        table.to_csv(path, index=False)
        written.append(path)
        if stem != "steps_to_goal_curves":
            md += [f"## {stem}: {title}", "", markdown(table, 2), ""]
    for fig in (
        _plot(curve_table, "steps", "eval steps to goal", out_dir / "steps_to_goal.png"),
        _plot(curve_table, "success", "eval success rate", out_dir / "success_rate.png"),
    ):
        written.append(fig)
        md += [f"![{fig.stem}]({fig.name})", ""]
    md += ["Per-evaluation values: `steps_to_goal_curves.csv`.", ""]
    md_path = out_dir / "blocks_report.md"
    md_path.write_text("\n".join(md))
    return written + [md_path]
