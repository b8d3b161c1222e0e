"""`at_steps.md`: a trial appears at a budget fraction only once it has run that far."""

import pandas as pd

from rllib_nsrl.systems.insight.report import _at_steps


def test_a_trial_still_running_is_not_shown_at_budgets_it_has_not_reached(tmp_path):
    evals = range(100, 1001, 100)
    finished = [{"condition": "INSIGHT", "seed": 0, "env_steps": s, "neural_return": s / 100} for s in evals]
    running = [
        {"condition": "INSIGHT", "seed": 1, "env_steps": s, "neural_return": 0.0} for s in evals if s <= 600
    ]
    long = pd.DataFrame(finished + running)
    _at_steps(long, {"ppo": {"total_steps": 1000}}, tmp_path, "Pong")
    rows = [
        line for line in (tmp_path / "at_steps.md").read_text().splitlines() if line.startswith("| INSIGHT")
    ]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in rows]
    assert [c[1] for c in cells] == ["25% (250 steps)", "50% (500 steps)", "100% (1,000 steps)"]
    assert [c[3] for c in cells] == ["2", "2", "1"]  # seeds counted at each budget
    assert cells[-1][2] == "10.00"  # the finished trial alone at the full budget
