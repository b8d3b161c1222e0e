"""`nsrl bench quality`: a learning fingerprint at a fixed budget, to check that a speed change is exact.

Trains SymDQN(AR,AF) (or any condition) with one seed for a few short epochs and records, per epoch,
every learner metric of the symbolic losses and the evaluation return. Run it on two commits and
compare the JSON lines: an exact rewrite gives the same numbers (docs/speed.md, "learning check").
Compare runs of the same training loop only (`--loop lean` or `--loop rllib`): the two loops draw
different replay batches, so their fingerprints differ even where both learn alike.
"""

from __future__ import annotations

import math

from rllib_nsrl.bench.train_bench import MODULE_ID, SYM, _ensure_ray

METRIC_PREFIXES = ("ltn_", "reward_pred", "dqn_loss")


def run_quality_bench(
    epochs: int = 3,
    seed: int = 0,
    condition: str = SYM,
    spec_over: dict | None = None,
) -> dict:
    """Train `condition` for `epochs` iterations of the quality spec; return the per-epoch fingerprint."""
    import ray

    from rllib_nsrl.experiments.schema import check, deep_merge
    from rllib_nsrl.systems.symdqn.kind import symdqn_config
    from rllib_nsrl.systems.symdqn.spec import SymDQNSpec

    raw = {
        "name": "bench_quality",
        "kind": "symdqn",
        "epoch": {"train_episodes": 8, "eval_episodes": 20},
        "dqn": {"epsilon": [[0, 0.95], [1500, 0.05]]},
        # the A4 margin and glyphs the recorded fingerprints were taken with (docs/speed.md); defaults
        # since: margin 0.0, paper glyphs
        "symbolic": {"reasoner_margin": 0.5},
        "env": {"config": {"glyphs": "simple"}},
    }
    spec = check(SymDQNSpec, deep_merge(raw, spec_over or {}))
    started = _ensure_ray()
    try:
        algo = symdqn_config(spec, condition, seed).build_algo()
        rows = []
        try:
            for epoch in range(1, epochs + 1):
                result = algo.train()
                learner = result.get("learners", {}).get(MODULE_ID, {})
                row = {"epoch": epoch}
                row.update({k: float(v) for k, v in sorted(learner.items()) if k.startswith(METRIC_PREFIXES)})
                evaluation = result.get("evaluation", {}).get("env_runners", {})
                value = float(evaluation.get("episode_return_mean", math.nan))
                row["eval_return"] = None if math.isnan(value) else value  # valid JSON either way
                rows.append(row)
        finally:
            algo.stop()
    finally:
        if started:
            ray.shutdown()
    return {
        "bench": "quality",
        "condition": condition,
        "seed": seed,
        "spec": spec["epoch"],
        "loop": spec["dqn"]["loop"],
        "epochs": rows,
    }


def _num(value) -> float:
    return math.nan if value is None else value


def format_quality_table(res: dict) -> str:
    """Human-readable table of a `run_quality_bench` result: one row per epoch, one column per metric."""
    rows = res["epochs"]
    keys = [k for k in rows[0] if k != "epoch"] if rows else []
    lines = [
        f"nsrl bench quality: {res['condition']}, seed {res['seed']}, epochs of {res['spec']}, "
        f"{res.get('loop', 'rllib')} loop"
    ]
    lines.append("epoch " + " ".join(f"{k:>14.14s}" for k in keys))
    for row in rows:
        lines.append(f"{row['epoch']:5d} " + " ".join(f"{_num(row[k]):14.4f}" for k in keys))
    return "\n".join(lines)
