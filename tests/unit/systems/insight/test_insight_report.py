"""INSIGHT report from hand-made trial logs (no Ray): a trial enters a table only once it has run that
far, and seeds are matched by iteration, not by their (drifting) sampled env-step counts."""

import pandas as pd

from rllib_nsrl.systems.insight.report import STEPS, _at_steps, write_insight_report

SPEC = {"env": {"game": "Pong"}, "ppo": {"total_steps": 1000, "num_envs": 1, "rollout_length": 100}}


def test_a_trial_still_running_is_not_shown_at_budgets_it_has_not_reached(tmp_path):
    evals = range(100, 1001, 100)
    finished = [
        {"condition": "INSIGHT", "seed": 0, "iteration": s // 100, "neural_return": s / 100} for s in evals
    ]
    running = [
        {"condition": "INSIGHT", "seed": 1, "iteration": s // 100, "neural_return": 0.0}
        for s in evals
        if s <= 600
    ]
    long = pd.DataFrame(finished + running)
    long["nominal"] = long["iteration"] * 100
    _at_steps(long, SPEC, tmp_path, "Pong")
    rows = [
        line for line in (tmp_path / "at_steps.md").read_text().splitlines() if line.startswith("| INSIGHT")
    ]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in rows]
    assert [c[1] for c in cells] == ["25% (250 steps)", "50% (500 steps)", "100% (1,000 steps)"]
    assert [c[3] for c in cells] == ["2", "2", "1"]  # seeds counted at each budget
    assert cells[-1][2] == "10.00"  # the finished trial alone at the full budget


def _trial(seed: int, last_iteration: int, returns, drift: int):
    """Evaluations every 2 iterations up to `last_iteration`; the sampled count runs `drift` steps ahead
    per iteration (RLlib samples a few steps more than the batch once episodes end mid-rollout)."""
    iterations = list(range(2, last_iteration + 1, 2))
    frame = pd.DataFrame(
        {
            "training_iteration": iterations,
            STEPS: [i * (100 + drift) for i in iterations],
            "insight/neural_return": [returns(i) for i in iterations],
            "insight/eql_return": [returns(i) - 1 for i in iterations],
        }
    )
    return {"condition": "INSIGHT", "seed": seed}, frame


def test_summary_averages_finished_trials_only_and_names_the_running_ones(tmp_path):
    trials = [_trial(0, 10, lambda i: float(i), drift=0), _trial(1, 6, lambda i: 100.0, drift=3)]
    write_insight_report(trials, SPEC, tmp_path)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["seeds"].tolist() == [1] and summary["neural_return_mean"].tolist() == [10.0]
    text = (tmp_path / "summary.md").read_text()
    assert (
        "Not finished (running or stopped), not in this table: "
        "INSIGHT seed 1 (newest evaluation at iteration 6, 600 steps)" in text
    )
    assert "Pong: final return normalised" in (tmp_path / "ablation.md").read_text()


def test_seeds_are_matched_by_iteration_although_their_sampled_steps_drift(tmp_path):
    """Seed 1 samples 3 steps more per iteration: its evaluation at iteration 10 (1 030 sampled steps)
    still counts at the full budget of 1 000, and at 25 % both seeds are read at iteration 2."""
    trials = [_trial(0, 10, lambda i: float(i), drift=0), _trial(1, 10, lambda i: 20.0 + i, drift=3)]
    write_insight_report(trials, SPEC, tmp_path)
    at = [
        line for line in (tmp_path / "at_steps.md").read_text().splitlines() if line.startswith("| INSIGHT")
    ]
    neural = [line.split("|")[3].strip() for line in at]
    assert neural == ["12.00 ± 14.14", "14.00 ± 14.14", "20.00 ± 14.14"], at
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["seeds"].tolist() == [2] and summary["neural_return_mean"].tolist() == [20.0]
