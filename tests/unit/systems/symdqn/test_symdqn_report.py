"""SymDQN report from hand-made trial frames (no Ray): table, logic columns, paper columns, partial-run
note, figures."""

import pandas as pd

from rllib_nsrl.systems.symdqn import report
from rllib_nsrl.systems.symdqn.report import MSE_COL, NEG_COL, SAT_COL, SCORE_COL, write_symdqn_report


def trial(condition, seed, scores, negs):
    frame = pd.DataFrame({"training_iteration": range(1, len(scores) + 1), SCORE_COL: scores, NEG_COL: negs})
    return {"_model_config": {"condition": condition}, "seed": seed}, frame


def spec(stop=3, seeds=(0, 1)):
    return {
        "conditions": ["DuelDQN", "SymDQN(AF)"],
        "seeds": list(seeds),
        "stop": {"epochs": stop},
        "epoch": {"train_episodes": 50, "eval_episodes": 50},
        "analysis": {"epochs": [2, 3], "window": 1},
    }


def test_complete_run_table_has_mean_and_sd_over_seeds_and_no_partial_note(tmp_path):
    trials = [
        trial("DuelDQN", 0, [0.1, 0.2, 0.3], [0.2, 0.2, 0.2]),
        trial("DuelDQN", 1, [0.1, 0.4, 0.5], [0.1, 0.1, 0.1]),
        trial("SymDQN(AF)", 0, [0.5, 0.6, 0.7], [0.0, 0.0, 0.0]),
        trial("SymDQN(AF)", 1, [0.5, 0.6, 0.7], [0.0, 0.0, 0.0]),
    ]
    write_symdqn_report(trials, spec(), tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv")
    duel3 = table[(table["condition"] == "DuelDQN") & (table["epoch"] == 3)].iloc[0]
    assert duel3["score_mean"] == 0.4 and round(duel3["score_sd"], 4) == round(pd.Series([0.3, 0.5]).std(), 4)
    text = (tmp_path / "summary.md").read_text()
    assert "| SymDQN(AF) | 2 | 0.60 ± 0.00 | 0.70 ± 0.00 |" in text
    assert "Partial run" not in text


def test_unfinished_run_says_how_far_each_trial_got(tmp_path):
    trials = [
        trial("DuelDQN", 0, [0.1, 0.2, 0.3], [0.2, 0.2, 0.2]),
        trial("SymDQN(AF)", 0, [0.5], [0.0]),
    ]
    write_symdqn_report(trials, spec(), tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "**Partial run**: 2 of 4 trials have results" in text
    assert "DuelDQN [3]; SymDQN(AF) [1]" in text
    assert "| SymDQN(AF) | 0 | – | – | – | – |" in text  # no seed at epoch 2 or 3 yet: dashes


def test_a_condition_without_any_result_still_gets_a_row(tmp_path):
    write_symdqn_report([trial("DuelDQN", 0, [0.1, 0.2], [0.2, 0.2])], spec(stop=2), tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "| SymDQN(AF) | 0 | – | – |" in text and "1 of 4 trials" in text


def test_compute_section_sums_trial_time_per_condition(tmp_path):
    trials = [
        trial("DuelDQN", 0, [0.1, 0.2, 0.3], [0.2, 0.2, 0.2]),
        trial("DuelDQN", 1, [0.1, 0.4, 0.5], [0.1, 0.1, 0.1]),
        trial("SymDQN(AF)", 0, [0.5, 0.6, 0.7], [0.0, 0.0, 0.0]),
    ]
    timings = ([600, 600, 1200], [1800, 1800, 1800], [90, 90, 180])
    for (_, frame), seconds in zip(trials, timings, strict=True):
        frame["time_this_iter_s"] = seconds
    write_symdqn_report(trials, {**spec(), "resources": {"max_concurrent_trials": 2}}, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "| DuelDQN | 2 | 6 | 2.17 | 1500 |" in text  # 7 800 s; median of 600, 600, 1200, 1800 ×3
    assert "| SymDQN(AF) | 1 | 3 | 0.10 | 90 |" in text
    assert "| all | 3 | 9 | 2.27 | 600 |" in text  # 8 160 s
    assert "at least 1.1 h of wall time" in text  # 8 160 s / 2
    assert pd.read_csv(tmp_path / "compute.csv")["trials"].tolist() == [2, 1, 3]


def test_a_short_run_states_its_wall_time_in_minutes(tmp_path):
    trials = [trial("DuelDQN", s, [0.1, 0.2], [0.2, 0.2]) for s in (0, 1)]
    for _, frame in trials:
        frame["time_this_iter_s"] = [90, 90]
    write_symdqn_report(trials, {**spec(stop=2), "resources": {"max_concurrent_trials": 2}}, tmp_path)
    assert "at least 3 min of wall time" in (tmp_path / "summary.md").read_text()  # 360 s / 2


def test_no_compute_section_without_timings(tmp_path):
    (tmp_path / "compute.csv").write_text("stale\n")
    write_symdqn_report([trial("DuelDQN", 0, [0.1, 0.2], [0.2, 0.2])], spec(stop=2), tmp_path)
    assert "## Compute" not in (tmp_path / "summary.md").read_text()
    assert not (tmp_path / "compute.csv").exists()


def test_compute_counts_only_timed_epochs_and_trials_with_timings(tmp_path):
    timed = trial("DuelDQN", 0, [0.1, 0.2, 0.3], [0.2] * 3)
    untimed = trial("DuelDQN", 1, [0.1, 0.2], [0.2] * 2)
    timed[1]["time_this_iter_s"] = [3600.0, float("nan"), 3600.0]
    write_symdqn_report([timed, untimed], spec(), tmp_path)
    assert "| DuelDQN | 1 | 2 | 2.00 | 3600 |" in (tmp_path / "summary.md").read_text()


def test_paper_columns_carry_the_papers_sd_of_the_score(tmp_path):
    scores = [0.1] * 50
    trials = [trial("SymDQN(AF)", 0, scores, [0.0] * 50), trial("SymDQN(AF)", 1, scores, [0.0] * 50)]
    run_spec = {**spec(stop=50), "analysis": {"epochs": [50], "window": 5}}
    write_symdqn_report(trials, run_spec, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "| SymDQN(AF) | 2 | 0.10 ± 0.00 (paper 0.65 ± 0.03) | 0.00 ± 0.00 (paper 0.00) |" in text
    assert pd.read_csv(tmp_path / "summary.csv")["paper_score_sd"].tolist()[-1] == 0.03


def test_paper_values_only_for_the_papers_epoch_size(tmp_path):
    scores = [0.1] * 50
    run_spec = {**spec(stop=50), "analysis": {"epochs": [50], "window": 5}}
    run_spec["epoch"] = {"train_episodes": 10, "eval_episodes": 20}  # epoch 50 here = paper epoch 10
    write_symdqn_report([trial("SymDQN(AF)", 0, scores, [0.0] * 50)], run_spec, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "paper" not in text.lower()
    assert pd.read_csv(tmp_path / "summary.csv")["paper_score"].isna().all()


def test_logic_columns_show_satagg_and_reward_mse_of_symbolic_conditions_only(tmp_path):
    trials = [trial("DuelDQN", s, [0.1, 0.2, 0.3], [0.2] * 3) for s in (0, 1)]
    for s, sat, mse in ((0, [0.5, 0.9, 0.95], [0.3, 0.02, 0.01]), (1, [0.5, 0.8, 0.85], [0.3, 0.04, 0.03])):
        config, frame = trial("SymDQN(AF)", s, [0.5, 0.6, 0.7], [0.0] * 3)
        frame[SAT_COL], frame[MSE_COL] = sat, mse
        trials.append((config, frame))
    write_symdqn_report(trials, spec(), tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "| SatAgg A1–A3 @2 | SatAgg A1–A3 @3 | reward MSE @2 | reward MSE @3 |" in text
    assert "| 0.85 ± 0.07 | 0.90 ± 0.07 | 0.030 ± 0.014 | 0.020 ± 0.014 |" in text
    duel = next(line for line in text.splitlines() if line.startswith("| DuelDQN"))
    assert duel.split(" | ")[6:10] == ["–"] * 4  # after name, seeds, r@2, r@3, p@2, p@3: SatAgg and MSE
    table = pd.read_csv(tmp_path / "summary.csv").set_index(["condition", "epoch"])
    assert round(table.at[("SymDQN(AF)", 3), "sat_mean"], 4) == 0.9
    assert pd.isna(table.at[("DuelDQN", 3), "mse_mean"])


def test_figures_have_a_title_and_the_specs_epoch_size_on_the_x_axis(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(report.plt, "close", figures.append)
    trials = [trial("DuelDQN", s, [0.1, 0.2, 0.3], [0.2] * 3) for s in (0, 1, 2)]
    run_spec = {**spec(seeds=(0, 1, 2)), "epoch": {"train_episodes": 15, "eval_episodes": 20}}
    write_symdqn_report(trials, run_spec, tmp_path)
    axes = [fig.axes[0] for fig in figures]
    assert [ax.get_xlabel() for ax in axes] == ["epoch (15 training episodes each)"] * 2
    assert axes[0].get_title().startswith("Evaluation score\n20 evaluation episodes per epoch")
    assert all("over 3 seeds" in ax.get_title() for ax in axes)
    monkeypatch.undo()
    for fig in figures:
        report.plt.close(fig)


def test_rolling_window_spans_epochs_not_rows():
    """With epoch 2 lost from the log, the window of 2 at epoch 3 holds epoch 3 alone (epoch 2 is a gap),
    not epochs 1 and 3."""
    config, frame = trial("DuelDQN", 0, [0.1, 0.3, 0.5], [0.0, 0.0, 0.0])
    frame = frame[frame["training_iteration"] != 2]
    long = report.curves([(config, frame)], window=2)
    assert long["epoch"].tolist() == [1, 3]
    assert long["score"].tolist() == [0.1, 0.5]
