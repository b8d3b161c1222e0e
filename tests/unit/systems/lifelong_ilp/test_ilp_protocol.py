"""Lifelong ILP protocol: KB carried / re-initialised, replay, determinism, resuming, learning, report."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rllib_nsrl.systems.lifelong_ilp.domains import DOMAINS
from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, ILPProtocol, metric_names, run_sequence
from rllib_nsrl.systems.lifelong_ilp.report import write_ilp_report

TINY = dict(
    domain="graph",
    epochs_per_task=1,
    batches_per_epoch=2,
    batch_size=2,
    kb_depth=1,
    kb_channels=[2, 2, 2],
    head_channels=[2, 2, 2],
    test_size=2,
    n_objects=6,
)
TASKS = DOMAINS["graph"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: thread hand-offs would cost more than the maths on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _metrics_equal(a: dict, b: dict) -> bool:
    def eq(x, y):
        return (isinstance(x, float) and math.isnan(x) and math.isnan(y)) or x == y

    return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)


def test_lifelong_carries_the_kb_and_freezes_old_heads():
    p = ILPProtocol(dict(TINY, mode="lifelong"))
    p.train_epoch()
    kb, kb_after_0, head0, head0_params = p.kb_for(0), _params(p.kb_for(0)), p.heads[0], _params(p.heads[0])
    p.begin_task()
    assert p.kb_for(1) is kb and _same(_params(p.kb_for(1)), kb_after_0)
    kb_ids = {id(q) for q in kb.parameters()}
    opt_ids = {id(q) for g in p.optimizer.param_groups for q in g["params"]}
    assert kb_ids <= opt_ids and not {id(q) for q in head0.parameters()} & opt_ids
    assert p.heads[1] is not head0
    p.train_epoch()
    assert not _same(_params(kb), kb_after_0) and _same(_params(head0), head0_params)


def test_individual_reinitialises_the_kb_per_task():
    p = ILPProtocol(dict(TINY, mode="individual"))
    p.train_epoch()
    kb0_after = _params(p.kb_for(0))
    p.begin_task()
    assert p.kb_for(1) is not p.kb_for(0)
    assert not _same(_params(p.kb_for(1)), kb0_after)
    assert _same(_params(p.kb_for(1)), _params(p._build_kb(1)))  # a fresh init, not a copy
    p.train_epoch()
    assert _same(_params(p.kb_for(0)), kb0_after)  # task 0 keeps its own model


def test_replay_keeps_training_earlier_heads():
    p = ILPProtocol(dict(TINY, mode="lifelong_replay"))
    p.train_epoch()
    head0 = _params(p.heads[0])
    p.train_epoch()
    assert not _same(_params(p.heads[0]), head0)


def test_first_task_identical_in_every_mode_and_untrained_tasks_are_nan():
    modes = ("individual", "lifelong", "lifelong_replay")
    first = [ILPProtocol(dict(TINY, mode=m)).train_epoch() for m in modes]
    assert _metrics_equal(first[0], first[1]) and _metrics_equal(first[1], first[2])
    m = first[0]
    assert set(m) == {"epoch", "task_index", "task", "train_loss", *metric_names(TASKS)}
    assert (m["epoch"], m["task_index"], m["task"]) == (1, 0, "AdjacentToRed")
    assert not math.isnan(m["test_acc_2x/AdjacentToRed"])
    assert all(math.isnan(m[f"test_loss/{t}"]) for t in TASKS[1:])


def test_same_seed_same_metrics_other_seed_differs():
    a, b = run_sequence(dict(TINY, seed=3)), run_sequence(dict(TINY, seed=3))
    assert len(a) == 4 and [m["epoch"] for m in a] == [1, 2, 3, 4]
    assert all(_metrics_equal(x, y) for x, y in zip(a, b, strict=True))
    c = run_sequence(dict(TINY, seed=4))
    assert a[-1]["train_loss"] != c[-1]["train_loss"]


@pytest.mark.parametrize("stop_after", [1, 3])  # at a task boundary and in the middle of a task
def test_state_dict_resumes_exactly(tmp_path, stop_after):
    config = dict(TINY, mode="lifelong_replay", epochs_per_task=2)
    reference = run_sequence(config)
    p = ILPProtocol(config)
    for _ in range(stop_after):
        p.train_epoch()
    torch.save(p.state_dict(), tmp_path / "state.pt")
    q = ILPProtocol(config)
    q.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    rest = []
    while not q.done:
        rest.append(q.train_epoch())
    assert all(_metrics_equal(x, y) for x, y in zip(reference[stop_after:], rest, strict=True))
    with pytest.raises(ValueError, match="saved for config"):
        ILPProtocol(dict(config, seed=9)).load_state_dict(p.state_dict())


def test_config_validation():
    with pytest.raises(ValueError, match="unknown ILP config keys"):
        ILPConfig.from_dict(dict(TINY, learning_rate=1.0))
    with pytest.raises(ValueError, match="individual, lifelong, lifelong_replay"):
        ILPConfig(mode="online")
    with pytest.raises(ValueError, match="arity 3"):
        ILPConfig(domain="arithmetic", kb_channels=(8, 8, 8), head_channels=(8, 8, 8))


def test_adjacent_to_red_is_learned_clearly_better_than_chance():
    config = dict(
        domain="graph",
        mode="individual",
        epochs_per_task=12,
        batches_per_epoch=25,
        batch_size=4,
        lr=3e-2,
        kb_depth=1,
        kb_channels=[4, 4, 4],
        head_channels=[4, 4, 4],
        test_size=16,
        n_objects=12,
        seed=0,
    )
    p = ILPProtocol(config)
    for _ in range(config["epochs_per_task"]):
        m = p.train_epoch()
    base = p._test[0].batch.target.mean().item()
    entropy = -(base * math.log(base) + (1 - base) * math.log(1 - base))
    assert m["test_loss/AdjacentToRed"] < 0.3 * entropy
    assert m["test_acc/AdjacentToRed"] > max(base, 1 - base) + 0.05
    assert m["test_acc_2x/AdjacentToRed"] > 0.9


def _synthetic_frame(mode: str, seed: int, epochs: int = 5) -> pd.DataFrame:
    rows = []
    rate = {"individual": 0.5, "lifelong": 1.0, "lifelong_replay": 1.0}[mode] + 0.1 * seed
    for t in range(4):
        for e in range(1, epochs + 1):
            row = {"epoch": t * epochs + e, "task_index": t, "task": TASKS[t]}
            for k, task in enumerate(TASKS):
                if k > t:
                    loss = acc = np.nan
                elif k == t:
                    loss = 0.7 * np.exp(-rate * e)
                    acc = 1 - loss
                else:
                    loss = 0.7 * np.exp(-rate * epochs) + (0.0 if mode != "lifelong" else 0.1 * (t - k))
                    acc = 1 - loss
                row |= {f"test_loss/{task}": loss, f"test_acc/{task}": acc, f"test_acc_2x/{task}": acc - 0.05}
            rows.append(row)
    return pd.DataFrame(rows)


def test_write_ilp_report_writes_tables_and_figures(tmp_path):
    trials = [
        ({"domain": "graph", "mode": mode, "seed": s, "epochs_per_task": 5}, _synthetic_frame(mode, s))
        for mode in ("individual", "lifelong", "lifelong_replay")
        for s in (0, 1)
    ]
    paths = write_ilp_report(trials, tmp_path / "report", loss_threshold=0.1)
    names = {p.name for p in paths}
    assert {
        "learning_speed.csv",
        "forgetting.csv",
        "backward_transfer.csv",
        "generalisation_2x.csv",
        "ilp_report.md",
        "learning_curves_graph.png",
        "forgetting_curves_graph.png",
        "final_accuracy_graph.png",
    } <= names
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    speed = pd.read_csv(tmp_path / "report" / "learning_speed.csv")
    row = speed[(speed["task_index"] == 0) & (speed["mode"] == "individual")].iloc[0]
    # 0.7 e^{-0.5 e} ≤ 0.1 first at e = 4 (seed 0), 0.7 e^{-0.6 e} at e = 4 (seed 1)
    assert row["epochs_to_threshold_mean"] == 4 and row["reached"] == 2
    forgetting = pd.read_csv(tmp_path / "report" / "forgetting.csv")
    rise = forgetting.set_index(["mode", "task_index"])["loss_increase_mean"]
    assert rise[("lifelong", 0)] == pytest.approx(0.3) and rise[("lifelong_replay", 0)] == pytest.approx(0.0)
    assert "± " in (tmp_path / "report" / "ilp_report.md").read_text()


def test_analyze_uses_the_spec_loss_threshold(tmp_path):
    """`analysis.loss_threshold` of the spec reaches the report: at 0.3 task 0 counts as learned sooner."""
    from rllib_nsrl.systems.lifelong_ilp.kind import KIND

    trials = [
        (
            {"domain": "graph", "mode": "individual", "seed": 0, "epochs_per_task": 5},
            _synthetic_frame("individual", 0),
        )
    ]
    KIND.report(
        trials, {"analysis": {"loss_threshold": 0.3, "relative_threshold": None}}, tmp_path / "report"
    )
    assert "test loss ≤ 0.3" in (tmp_path / "report" / "ilp_report.md").read_text()
    speed = pd.read_csv(tmp_path / "report" / "learning_speed.csv")
    # 0.7 e^{-0.5 e} ≤ 0.3 first at e = 2 (at 0.1 it is e = 4)
    assert speed[speed["task_index"] == 0]["epochs_to_threshold_mean"].iloc[0] == 2


def _three_task_frame(rate: float, epochs: int = 5, upto: int | None = None, drop=()) -> pd.DataFrame:
    """Tasks A, B, C, each learned at `rate` from the start of its own training; earlier ones stay at 0.05."""
    rows = []
    for t in range(3):
        for e in range(1, epochs + 1):
            epoch = t * epochs + e
            if (upto and epoch > upto) or epoch in drop:
                continue
            row = {"epoch": epoch, "task_index": t, "task": "ABC"[t]}
            for k, task in enumerate("ABC"):
                loss = np.nan if k > t else (0.7 * np.exp(-rate * e) if k == t else 0.05)
                row |= {f"test_loss/{task}": loss, f"test_acc/{task}": 1 - loss}
                row[f"test_acc_2x/{task}"] = 1 - loss
            rows.append(row)
    return pd.DataFrame(rows)


def _ilp_runs(frames):
    from rllib_nsrl.systems.lifelong_ilp import report

    config = {"domain": "x", "epochs_per_task": 5}
    return report._runs([({**config, "mode": m, "seed": s}, f) for (m, s), f in frames.items()])


def test_a_task_still_in_training_is_not_counted_as_never_learned():
    """A partial run: lifelong seed 1 has finished task A only. Its tasks B and C are left out, not
    censored at E + 1 as failures: transfer stays 0 and `reached` counts the seeds that got there."""
    from rllib_nsrl.systems.lifelong_ilp.report import learning_speed, transfer

    frames = {("individual", s): _three_task_frame(1.0) for s in (0, 1)}
    frames |= {("lifelong", 0): _three_task_frame(1.0), ("lifelong", 1): _three_task_frame(1.0, upto=5)}
    runs = _ilp_runs(frames)
    table = transfer(runs, 0.1)
    assert table["epochs_to_threshold_diff"].tolist() == [0.0, 0.0, 0.0]
    assert table["reached"].tolist() == ["2/2 vs 2/2", "1/1 vs 2/2", "1/1 vs 2/2"]
    speed = learning_speed(runs, 0.1)
    b = speed[(speed["task"] == "B") & (speed["mode"] == "lifelong")].iloc[0]
    assert b["seeds"] == 1 and b["reached"] == 1
    # the end-of-sequence tables count only runs that have finished their sequence
    from rllib_nsrl.systems.lifelong_ilp.report import backward_transfer, final_accuracy, forgetting

    for table in (forgetting(runs), backward_transfer(runs), final_accuracy(runs)):
        assert set(table[table["mode"] == "lifelong"]["seeds"]) == {1}
        assert set(table[table["mode"] == "individual"]["seeds"]) == {2}


def test_transfer_intervals_are_paired_by_seed():
    """Both modes with the same per-seed curves: every per-seed difference is 0, so is the paired interval
    (resampling the two modes on their own would give a spurious spread)."""
    from rllib_nsrl.systems.lifelong_ilp.report import transfer

    frames = {(m, s): _three_task_frame(0.5 + 0.3 * s) for m in ("individual", "lifelong") for s in (0, 1, 2)}
    table = transfer(_ilp_runs(frames), 0.1)
    assert set(table["loss_auc_ci"]) == {"[0, 0]"} and set(table["epochs_to_threshold_ci"]) == {"[0, 0]"}


def test_epochs_to_threshold_counts_epoch_numbers_when_a_line_is_lost():
    """Epoch 2 lost from the log: the loss first reaches 0.1 at epoch 3, not at the third logged row."""
    from rllib_nsrl.systems.lifelong_ilp.report import _speed_rows

    rows = _speed_rows(_ilp_runs({("individual", 0): _three_task_frame(1.0, drop=(2,))}), 0.02)
    assert rows[0]["epochs_to_threshold"] == 4.0  # 0.7·e^-4 = 0.0128 ≤ 0.02 < 0.7·e^-3; rows 1, 3, 4: 3rd row


def test_relative_threshold_is_a_fraction_of_the_constant_predictors_test_loss(tmp_path):
    """The constant predictor's loss is H(p) of the task's fixed test set; with a relative threshold a task
    counts as learned at 0.25·H(p), not at an absolute loss that predicting the base rate may already meet."""
    from rllib_nsrl.systems.lifelong_ilp.domains import get_domain
    from rllib_nsrl.systems.lifelong_ilp.report import constant_loss

    p = float(get_domain("graph").test_set(TASKS[0], 4, 10).target.mean())
    assert constant_loss("graph", TASKS[0], 10, 4) == pytest.approx(
        -(p * math.log(p) + (1 - p) * math.log(1 - p))
    )
    config = {"domain": "graph", "mode": "individual", "seed": 0, "epochs_per_task": 5, "n_objects": 10}
    trials = [(config | {"test_size": 4}, _synthetic_frame("individual", 0))]
    write_ilp_report(trials, tmp_path / "abs", loss_threshold=0.1)
    write_ilp_report(trials, tmp_path / "rel", loss_threshold=0.1, relative_threshold=0.25)
    speed = {k: pd.read_csv(tmp_path / k / "learning_speed.csv").iloc[0] for k in ("abs", "rel")}
    bound = 0.25 * speed["rel"]["constant_loss"]  # 0.081 here: H(p) = 0.325
    first = next(e for e in range(1, 6) if 0.7 * math.exp(-0.5 * e) <= bound)  # the curve task 0 follows
    assert (
        speed["abs"]["epochs_to_threshold_mean"] == 4
        and speed["rel"]["epochs_to_threshold_mean"] == first == 5
    )
    assert "0.25 × the constant predictor's" in (tmp_path / "rel" / "ilp_report.md").read_text()


def test_balanced_loss_of_a_batch_without_false_atoms_is_plain_bce():
    """All atoms true: the weight negatives/positives would be 0 and silence the batch; it is 1 instead."""
    from rllib_nsrl.systems.lifelong_ilp.protocol import task_loss

    logits, target = torch.tensor([-1.0, 0.5, 2.0]), torch.ones(3)
    assert task_loss(logits, target, "balanced").item() == pytest.approx(task_loss(logits, target).item())
    assert task_loss(logits, target, "balanced").item() > 0
