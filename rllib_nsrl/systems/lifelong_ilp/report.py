"""Report of lifelong supervised-ILP runs (L2ILP, Figs. 2 and 4): learning speed, forgetting, transfer.

Input: one `(config, frame)` per trial, `config` with `domain`, `mode`, `seed` (and `epochs_per_task`),
`frame` the per-epoch metrics of `ilp_trainable` (`epoch`, `task_index`, `test_loss/T`, `test_acc/T`,
`test_acc_2x/T`). Statistics are mean ± sd over seeds of the same (domain, mode).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd

from rllib_nsrl.analysis.tables import markdown, summarise  # noqa: E402
from rllib_nsrl.systems.lifelong_ilp.domains import DOMAINS, get_domain  # noqa: E402

MODE_ORDER = ("individual", "lifelong", "lifelong_replay")


class Threshold(NamedTuple):
    """When a task counts as learned: test loss ≤ `relative` × the constant predictor's loss of the task
    (`constant_loss`), or ≤ `absolute` when `relative` is None or the domain is not a built-in one."""

    absolute: float = 0.1
    relative: float | None = None

    def describe(self) -> str:
        """The criterion in words, for table titles."""
        if self.relative is None:
            return f"test loss ≤ {self.absolute:g}"
        return f"test loss ≤ {self.relative:g} × the constant predictor's (`constant_loss`)"


@cache
def constant_loss(domain: str, task: str, n: int, size: int) -> float:
    """Test loss (mean BCE over the atoms of the fixed n-object test set) of the best constant prediction:
    the set's true-atom rate p everywhere, i.e. its entropy H(p). A threshold below it means something; an
    absolute one may not (rare targets: 0.08–0.14 at the paper's sizes, below or near 0.1)."""
    p = float(get_domain(domain).test_set(task, size, n).target.mean())
    return 0.0 if p in (0.0, 1.0) else -(p * math.log(p) + (1 - p) * math.log(1 - p))


def _constant_losses(config: dict, tasks: list[str]) -> dict[str, float]:
    domain = config["domain"]
    if domain not in DOMAINS:
        return {}
    n = int(config.get("n_objects") or get_domain(domain).default_n)
    size = int(config.get("test_size") or 16)
    return {task: constant_loss(domain, task, n, size) for task in tasks}


def _threshold_of(run: dict, task: str, threshold) -> float:
    if not isinstance(threshold, Threshold):
        return float(threshold)
    constant = run["constant"].get(task)
    if threshold.relative is None or constant is None:
        return threshold.absolute
    return threshold.relative * constant


def _tasks(domain: str, frame: pd.DataFrame) -> list[str]:
    if domain in DOMAINS:
        return list(DOMAINS[domain])
    return [c.split("/", 1)[1] for c in frame.columns if c.startswith("test_loss/")]


def _epochs_per_task(config: dict, frame: pd.DataFrame) -> int:
    return int(config.get("epochs_per_task") or frame.groupby("task_index").size().max())


def _runs(trials) -> list[dict]:
    runs = []
    for config, frame in trials:
        # a trial restored from a task-boundary checkpoint reports the replayed epochs again: keep the last
        frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
        tasks = _tasks(config["domain"], frame)
        runs.append(
            {
                "domain": config["domain"],
                "mode": config["mode"],
                "seed": config.get("seed", 0),
                "E": _epochs_per_task(config, frame),
                "tasks": tasks,
                "frame": frame,
                "constant": _constant_losses(config, tasks),
            }
        )
    return runs


def _at_epoch(frame: pd.DataFrame, column: str, epoch: int) -> float:
    row = frame.loc[frame["epoch"] == epoch, column]
    return float(row.iloc[0]) if len(row) else np.nan


def _speed_rows(runs, threshold: float | Threshold) -> list[dict]:
    """One row per (run, task) whose outcome is known: the task reached the threshold, or its training
    finished (its last epoch is logged) without reaching it. A task still in training (or not begun) that
    has not reached it yet is left out, so a partial run does not count it as a failure."""
    rows = []
    for run in runs:
        f, E = run["frame"], run["E"]
        for k, task in enumerate(run["tasks"]):
            task_rows = f[f["task_index"] == k]
            curve = task_rows[f"test_loss/{task}"].to_numpy()
            hit = np.flatnonzero(curve <= _threshold_of(run, task, threshold))
            finished = bool((f["epoch"] == (k + 1) * E).any())
            if not len(hit) and not finished:
                continue
            # epoch numbers, not row positions: an epoch lost from the log must not shift the count
            first = float(task_rows["epoch"].iloc[hit[0]] - k * E) if len(hit) else np.nan
            rows.append(
                {
                    "domain": run["domain"],
                    "task_index": k,
                    "task": task,
                    "mode": run["mode"],
                    "seed": run["seed"],
                    "epochs_to_threshold": first,
                    "reached": float(len(hit) > 0),
                    # area under the task's test-loss curve during its own training, per epoch
                    "loss_auc": float(np.mean(curve)) if len(curve) == E else np.nan,
                    "final_loss": _at_epoch(f, f"test_loss/{task}", (k + 1) * E),
                    "constant_loss": run["constant"].get(task, np.nan),
                }
            )
    return rows


def learning_speed(runs, threshold: float | Threshold) -> pd.DataFrame:
    """Per task and mode: epochs within the task until its test loss first reaches `threshold` (NaN:
    never), the area under its test-loss curve during its own training (mean loss per epoch; NaN while the
    task is unfinished), and its loss at the end of its training. Seeds whose task is still in training
    and below the threshold are not counted yet (`_speed_rows`)."""
    rows = _speed_rows(runs, threshold)
    keys = ["domain", "task_index", "task", "mode"]
    table = summarise(rows, keys, ["epochs_to_threshold", "loss_auc", "final_loss"])
    if not rows:
        return table.assign(reached=pd.Series(dtype=int))
    grouped = pd.DataFrame(rows).groupby(keys, sort=False)
    extra = grouped["reached"].sum().astype(int).to_frame().join(grouped["constant_loss"].first())
    extra = extra.reset_index()
    return table.merge(extra, on=keys, how="left")


def difference_ci(a, b, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """mean(a) − mean(b) and its 95 % percentile-bootstrap interval, each sample resampled on its own
    (seeds are independent runs); a fixed generator, so the same data give the same interval. The
    interval is NaN when either side has fewer than 2 values (one seed says nothing about spread)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return (float("nan"),) * 3
    point = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    diffs = rng.choice(a, (reps, len(a))).mean(axis=1) - rng.choice(b, (reps, len(b))).mean(axis=1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point, float(low), float(high)


def paired_difference_ci(a: pd.Series, b: pd.Series, reps: int = 2000, seed: int = 0):
    """Like `difference_ci`, for values indexed by seed. The modes of one seed share the task-0 run, the
    data and the heads' initial weights (`protocol.py`), so when both sides have the same seeds the
    per-seed differences are bootstrapped (paired); otherwise the two samples are resampled on their own."""
    a, b = a.dropna(), b.dropna()
    if len(a) and set(a.index) == set(b.index) and a.index.is_unique and b.index.is_unique:
        d = (a - b.reindex(a.index)).to_numpy(dtype=float)
        point = float(d.mean())
        if len(d) < 2:
            return point, float("nan"), float("nan")
        rng = np.random.default_rng(seed)
        low, high = np.percentile(rng.choice(d, (reps, len(d))).mean(axis=1), [2.5, 97.5])
        return point, float(low), float(high)
    return difference_ci(a.to_numpy(), b.to_numpy(), reps, seed)


def transfer(runs, threshold: float | Threshold) -> pd.DataFrame:
    """Forward transfer: per task, each lifelong mode minus `individual` in loss AUC and in epochs to the
    threshold (negative: the shared KB made the task learn faster), with 95 % bootstrap intervals, paired
    by seed where both sides have the same seeds (`paired_difference_ci`). A seed whose training of the
    task finished without reaching the threshold counts as E + 1 epochs (censored), not as missing, so a
    mode that fails on some seeds cannot look faster; a seed still training the task is not counted yet.
    `reached` says on how many seeds each side got there."""
    raw = pd.DataFrame(_speed_rows(runs, threshold))
    rows = []
    if raw.empty or "individual" not in set(raw["mode"]):
        return pd.DataFrame(rows)
    epochs = {(r["domain"], r["mode"], r["seed"]): r["E"] for r in runs}
    raw["censored_epochs"] = [
        e if not np.isnan(e) else epochs[(d, m, s)] + 1
        for e, d, m, s in zip(
            raw["epochs_to_threshold"], raw["domain"], raw["mode"], raw["seed"], strict=True
        )
    ]
    for (domain, k, task), group in raw.groupby(["domain", "task_index", "task"], sort=False):
        base = group[group["mode"] == "individual"]
        for mode in [m for m in MODE_ORDER if m != "individual" and m in set(group["mode"])]:
            other = group[group["mode"] == mode]
            row = {"domain": domain, "task_index": k, "task": task, "mode": mode}
            for metric, column in (("loss_auc", "loss_auc"), ("epochs_to_threshold", "censored_epochs")):
                diff, low, high = paired_difference_ci(
                    other.set_index("seed")[column], base.set_index("seed")[column]
                )
                row[f"{metric}_diff"], row[f"{metric}_ci"] = diff, f"[{low:.3g}, {high:.3g}]"
            row["reached"] = (
                f"{int(other['reached'].sum())}/{len(other)} vs {int(base['reached'].sum())}/{len(base)}"
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _finished(run: dict) -> bool:
    """Whether the run has logged the last epoch of its sequence."""
    return bool((run["frame"]["epoch"] == len(run["tasks"]) * run["E"]).any())


def forgetting(runs) -> pd.DataFrame:
    """Test loss of each task right after its own training, at the end of the sequence, and the rise;
    over the runs that have finished their sequence."""
    rows = []
    for run in filter(_finished, runs):
        f, E, last = run["frame"], run["E"], len(run["tasks"]) * run["E"]
        for k, task in enumerate(run["tasks"][:-1]):
            after = _at_epoch(f, f"test_loss/{task}", (k + 1) * E)
            end = _at_epoch(f, f"test_loss/{task}", last)
            rows.append(
                {
                    "domain": run["domain"],
                    "task_index": k,
                    "task": task,
                    "mode": run["mode"],
                    "loss_after_task": after,
                    "loss_at_end": end,
                    "loss_increase": end - after,
                }
            )
    return summarise(
        rows, ["domain", "task_index", "task", "mode"], ["loss_after_task", "loss_at_end", "loss_increase"]
    )


def backward_transfer(runs) -> pd.DataFrame:
    """Test accuracy of each earlier task at the end minus right after its own training (> 0: transfer);
    over the runs that have finished their sequence."""
    rows = []
    for run in filter(_finished, runs):
        f, E, last = run["frame"], run["E"], len(run["tasks"]) * run["E"]
        per_task = []
        for k, task in enumerate(run["tasks"][:-1]):
            bwt = _at_epoch(f, f"test_acc/{task}", last) - _at_epoch(f, f"test_acc/{task}", (k + 1) * E)
            per_task.append(bwt)
            rows.append({"domain": run["domain"], "task": task, "mode": run["mode"], "bwt_acc": bwt})
        mean = np.nanmean(per_task) if per_task and not np.all(np.isnan(per_task)) else np.nan
        rows.append({"domain": run["domain"], "task": "mean", "mode": run["mode"], "bwt_acc": mean})
    return summarise(rows, ["domain", "task", "mode"], ["bwt_acc"])


def final_accuracy(runs) -> pd.DataFrame:
    """Accuracy of every task at the end of the sequence on n objects and on 2n objects; over the runs that
    have finished their sequence."""
    rows = []
    for run in filter(_finished, runs):
        f, last = run["frame"], len(run["tasks"]) * run["E"]
        for k, task in enumerate(run["tasks"]):
            rows.append(
                {
                    "domain": run["domain"],
                    "task_index": k,
                    "task": task,
                    "mode": run["mode"],
                    "acc": _at_epoch(f, f"test_acc/{task}", last),
                    "acc_2x": _at_epoch(f, f"test_acc_2x/{task}", last),
                }
            )
    return summarise(rows, ["domain", "task_index", "task", "mode"], ["acc", "acc_2x"])


def _band(ax, frames: list[pd.DataFrame], x: str, y: str, label: str) -> None:
    stacked = pd.concat([fr[[x, y]] for fr in frames]).groupby(x)[y]
    mean, sd = stacked.mean(), stacked.std().fillna(0.0)
    ax.plot(mean.index, mean.to_numpy(), label=label)
    ax.fill_between(mean.index, (mean - sd).to_numpy(), (mean + sd).to_numpy(), alpha=0.2)


def _plot_curves(runs, domain: str, modes, within_task: bool, path: Path) -> Path | None:
    chosen = [r for r in runs if r["domain"] == domain and r["mode"] in modes]
    if not chosen:
        return None
    tasks = chosen[0]["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.2), squeeze=False)
    for k, (ax, task) in enumerate(zip(axes[0], tasks, strict=True)):
        for mode in [m for m in MODE_ORDER if m in modes]:
            frames = []
            for r in (r for r in chosen if r["mode"] == mode):
                f = r["frame"]
                if within_task:
                    f = f[f["task_index"] == k].assign(x=lambda d, E=r["E"], k=k: d["epoch"] - k * E)
                else:
                    f = f.assign(x=f["epoch"])
                    for b in range(1, len(tasks)):
                        ax.axvline(b * r["E"] + 0.5, color="grey", ls="--", lw=0.8)
                frames.append(f)
            if frames:
                _band(ax, frames, "x", f"test_loss/{task}", mode)
        ax.set(
            title=f"task {k}: {task}", xlabel="epoch in task" if within_task else "epoch", ylabel="test loss"
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_accuracy(table: pd.DataFrame, domain: str, path: Path) -> Path | None:
    sub = table[table["domain"] == domain]
    if sub.empty:
        return None
    modes = [m for m in MODE_ORDER if m in set(sub["mode"])] + sorted(set(sub["mode"]) - set(MODE_ORDER))
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    width = 0.8 / len(modes)
    for ax, metric in zip(axes, ("acc", "acc_2x"), strict=True):
        for i, mode in enumerate(modes):
            rows = sub[sub["mode"] == mode].set_index("task").reindex(tasks)
            ax.bar(
                np.arange(len(tasks)) + i * width,
                rows[f"{metric}_mean"],
                width,
                yerr=rows[f"{metric}_sd"].fillna(0.0),
                label=mode,
            )
        ax.set(title=f"final test accuracy ({'2n' if metric == 'acc_2x' else 'n'} objects)", ylim=(0, 1.05))
        ax.set_xticks(np.arange(len(tasks)) + 0.4 - width / 2, tasks, rotation=20, ha="right", fontsize=7)
    axes[0].legend(fontsize=7, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_ilp_report(
    trials: list[tuple[dict, pd.DataFrame]],
    out_dir: Path,
    loss_threshold: float = 0.1,
    relative_threshold: float | None = None,
) -> list[Path]:
    """Write the tables (CSV, one Markdown summary) and the per-domain figures (PNG); return the paths.
    A task counts as learned at `Threshold(loss_threshold, relative_threshold)`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = _runs(trials)
    threshold = Threshold(loss_threshold, relative_threshold)
    tables = {
        f"learning_speed (epochs until {threshold.describe()})": (
            "learning_speed",
            learning_speed(runs, threshold),
        ),
        "forward transfer (lifelong mode − individual; negative: faster)": (
            "transfer",
            transfer(runs, threshold),
        ),
        "forgetting (test loss of earlier tasks)": ("forgetting", forgetting(runs)),
        "backward_transfer (accuracy at end − after own training)": (
            "backward_transfer",
            backward_transfer(runs),
        ),
        "final accuracy on n and 2n objects": ("generalisation_2x", final_accuracy(runs)),
    }
    written, md = [], ["# Lifelong supervised ILP report", ""]
    for title, (stem, table) in tables.items():
        path = out_dir / f"{stem}.csv"
        table.to_csv(path, index=False)
        written.append(path)
        md += [f"## {title}", "", markdown(table, 3), ""]
    for domain in dict.fromkeys(r["domain"] for r in runs):
        figures = [
            _plot_curves(
                runs, domain, ("individual", "lifelong"), True, out_dir / f"learning_curves_{domain}.png"
            ),
            _plot_curves(
                runs,
                domain,
                ("lifelong", "lifelong_replay"),
                False,
                out_dir / f"forgetting_curves_{domain}.png",
            ),
            _plot_accuracy(
                tables["final accuracy on n and 2n objects"][1],
                domain,
                out_dir / f"final_accuracy_{domain}.png",
            ),
        ]
        for fig in (f for f in figures if f is not None):
            written.append(fig)
            md += [f"![{fig.stem}]({fig.name})", ""]
    md_path = out_dir / "ilp_report.md"
    md_path.write_text("\n".join(md))
    return written + [md_path]
