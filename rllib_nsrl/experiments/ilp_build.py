"""Tune plan for `kind: ilp_lifelong`: one function-trainable trial per (mode, seed)."""

from __future__ import annotations

from rllib_nsrl.experiments.ilp_schema import trial_config
from rllib_nsrl.experiments.runner import Plan
from rllib_nsrl.lifelong.ilp_domains import DOMAINS


def ilp_plan(spec: dict) -> Plan:
    from ray import tune

    from rllib_nsrl.lifelong.ilp_trainable import ilp_trainable

    space = trial_config(spec, tune.grid_search(spec["modes"]), tune.grid_search(spec["seeds"]))
    epochs = len(DOMAINS[spec["domain"]]) * spec["training"]["epochs_per_task"]
    columns = {"task": "task", "train_loss": "train_loss"}
    return Plan(
        ilp_trainable, space, lambda c: f"{c['domain']} {c['mode']} seed={c['seed']}", columns, epochs
    )
