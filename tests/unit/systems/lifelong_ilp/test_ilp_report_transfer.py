"""The ILP report's loss AUC and forward-transfer table (lifelong modes minus individual)."""

import math

import numpy as np
import pandas as pd

from rllib_nsrl.systems.lifelong_ilp.report import _runs, difference_ci, learning_speed, transfer


def frame(losses_per_task: list[list[float]]) -> pd.DataFrame:
    """A trial's per-epoch metrics: task k's test loss follows `losses_per_task[k]` during its training."""
    rows, epoch = [], 0
    tasks = ["A", "B"]
    for k, curve in enumerate(losses_per_task):
        for loss in curve:
            epoch += 1
            row = {"epoch": epoch, "task_index": k}
            for j, task in enumerate(tasks):
                row[f"test_loss/{task}"] = loss if j == k else 0.5
                row[f"test_acc/{task}"] = row[f"test_acc_2x/{task}"] = 0.5
            rows.append(row)
    return pd.DataFrame(rows)


def trial(mode, seed, curves):
    return {"domain": "toy", "mode": mode, "seed": seed, "epochs_per_task": 3}, frame(curves)


def test_loss_auc_is_the_mean_loss_of_the_tasks_own_epochs():
    runs = _runs([trial("individual", 0, [[0.9, 0.3, 0.0], [0.6, 0.6, 0.6]])])
    table = learning_speed(runs, threshold=0.1)
    auc = dict(zip(table["task"], table["loss_auc_mean"], strict=True))
    assert math.isclose(auc["A"], 0.4) and math.isclose(auc["B"], 0.6)


def test_a_seed_that_never_reaches_the_threshold_counts_as_e_plus_one_epochs():
    slow, never = [[0.9, 0.05, 0.0], [0.9, 0.9, 0.05]], [[0.9, 0.05, 0.0], [0.9, 0.9, 0.9]]
    fast = [[0.9, 0.05, 0.0], [0.05, 0.0, 0.0]]
    trials = [trial("individual", s, slow) for s in range(2)]
    trials += [trial("lifelong", 0, fast), trial("lifelong", 1, never)]
    row = transfer(_runs(trials), threshold=0.1).set_index(["task", "mode"]).loc[("B", "lifelong")]
    # lifelong: 1 and 4 (censored: E + 1) epochs, mean 2.5; individual: 3 and 3
    assert row["epochs_to_threshold_diff"] == -0.5
    assert row["reached"] == "1/2 vs 2/2"


def test_difference_ci_brackets_the_difference_and_says_nothing_about_one_seed():
    diff, low, high = difference_ci([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    assert diff == 1.5 and low <= diff <= high
    assert difference_ci([1.0, 2.0, 3.0], [0.0, 0.5, 1.0]) == (diff, low, high)  # fixed generator
    one = difference_ci([1.0], [0.0, 1.0])
    assert one[0] == 0.5 and np.isnan(one[1]) and np.isnan(one[2])
