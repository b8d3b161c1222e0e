"""Complete the 50-epoch ablation's report with a trial that was re-run in a separate experiment.

The ablation (`tune_configs/symdqn_budget.yaml`) ran across several sessions. Fourteen trials
finished; the fifteenth, SymDQN(AR,AF) seed 2, had reached epoch 16 when the machine holding
`runs/symdqn_budget` was replaced, so only this folder's `curves.csv` (written by `nsrl analyze`)
survived. That trial was then run again on its own, from epoch 1, with the same spec restricted to
one condition and one seed:

    sed 's/^name: symdqn_budget$/name: symdqn_budget_ar_af_seed2/; s/^seeds: \\[0, 1, 2\\]/seeds: [2]/;
         s/^conditions: .*/conditions: ["SymDQN(AR,AF)"]/' tune_configs/symdqn_budget.yaml > ar_af_seed2.yaml
    nsrl run ar_af_seed2.yaml --storage runs
    python docs/results/symdqn_budget/complete_with_rerun.py runs/symdqn_budget_ar_af_seed2

This script compares the re-run with the epochs the first run had reached and prints where they
first differ (on the replacement machine the two agree exactly for epochs 1-3 and drift apart from
epoch 4; see docs/results.md), replaces the partial trial's rows in `curves.csv` with the re-run's 50
epochs, and rewrites `summary.csv`, `summary.md` and both figures with the package's own report functions. The
compute table of the original run (`compute.csv`) is kept as measured; the re-run's timing, taken
with the trial alone on the machine, goes to `compute_rerun.csv`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.systems.symdqn import report as rep

HERE = Path(__file__).resolve().parent
SPEC = Path(__file__).resolve().parents[3] / "tune_configs" / "symdqn_budget.yaml"


def main(rerun_dir: str) -> int:
    from rllib_nsrl.experiments.spec import load_spec

    spec = load_spec(str(SPEC))
    window, epochs = spec["analysis"]["window"], spec["analysis"]["epochs"]
    first = pd.read_csv(HERE / "curves.csv")
    trials = load_trials(Path(rerun_dir))
    rerun = rep.curves(trials, window)
    if rerun.empty:
        print(f"{rerun_dir}: no results", file=sys.stderr)
        return 2
    for (cond, seed), new in rerun.groupby(["condition", "seed"]):
        old = first[(first["condition"] == cond) & (first["seed"] == seed)].set_index("epoch")
        new = new.set_index("epoch")
        common = old.index.intersection(new.index)
        diff = old.loc[common, ["score", "negative_ratio"]] - new.loc[common, ["score", "negative_ratio"]]
        gap = diff.abs().max(axis=1)  # per epoch, the larger of the two differences
        worst = float(gap.max()) if len(common) else 0.0
        differ = [int(e) for e in common[(gap > 1e-12).to_numpy()]]
        print(
            f"{cond} seed {seed}: {len(common)} epochs in both runs; identical through epoch "
            f"{differ[0] - 1 if differ else int(common.max())}; largest difference {worst:.3g}"
        )
        first = first[~((first["condition"] == cond) & (first["seed"] == seed))]
    long = pd.concat([first, rerun[first.columns]], ignore_index=True)
    table = rep.summary_table(long, epochs, spec["epoch"]["train_episodes"])
    table.to_csv(HERE / "summary.csv", index=False)
    text = rep.markdown(table, window, spec["epoch"]["eval_episodes"], epochs, spec["conditions"])
    compute = pd.read_csv(HERE / "compute.csv")
    concurrent = int(spec["resources"]["max_concurrent_trials"])
    (HERE / "summary.md").write_text(
        text + rep.progress_note(long, spec) + rep.compute_markdown(compute, concurrent)
    )
    long.to_csv(HERE / "curves.csv", index=False)
    rep.compute_table(trials).to_csv(HERE / "compute_rerun.csv", index=False)
    episodes = spec["epoch"]["train_episodes"]
    rep.plot(
        long, "score", "score (return / max return)", HERE / "score.png", "SymDQN budget run: score", episodes
    )
    rep.plot(long, "negative_ratio", "negative ratio", HERE / "negative_ratio.png",
             "SymDQN budget run: negative ratio", episodes)  # fmt: skip
    print(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: complete_with_rerun.py RERUN_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
