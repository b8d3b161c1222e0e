"""Tune plan for `kind: blocksworld_lifelong`: the offline data first (reused when complete), then one
function-trainable trial per (mode, seed)."""

from __future__ import annotations

from rllib_nsrl.experiments.blocks_schema import iterations, trial_config
from rllib_nsrl.experiments.runner import Plan


def blocks_plan(spec: dict) -> Plan:
    """Called by `runner.run` once Ray is up: collects missing datasets with Ray tasks before training."""
    from ray import tune

    from rllib_nsrl.lifelong.blocks_trainable import blocks_trainable
    from rllib_nsrl.offline.collect import DataSettings, ensure_dataset

    folder = ensure_dataset(DataSettings.from_spec(spec), spec["data"]["dir"])
    space = trial_config(spec, tune.grid_search(spec["modes"]), tune.grid_search(spec["seeds"]), str(folder))
    columns = {"task": "task", "steps": "eval_steps", "success": "eval_success", "critic": "critic_loss"}
    return Plan(blocks_trainable, space, lambda c: f"{c['mode']} seed={c['seed']}", columns, iterations(spec))
