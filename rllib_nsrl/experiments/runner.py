"""Run a validated spec with Ray Tune: local Ray by default, or an existing cluster (`address`).

Every experiment kind maps to (trainable, param_space, label, progress columns, stop); conditions
or modes and seeds are Tune grid axes. Results land in `<storage>/<name>` (local path or URI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rllib_nsrl.experiments.schema import SpecError
from rllib_nsrl.rl_modules.conditions import slug

# Loopback-only Ray on single-node Linux (see README "Cluster"): set before Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@dataclass
class Plan:
    trainable: Any
    param_space: Any
    label: Any  # config dict -> short trial label
    columns: dict[str, str]
    epochs: int


def _symdqn_plan(spec: dict) -> Plan:
    from ray import tune

    from rllib_nsrl.algorithms.epoch_dqn import EpochDQN
    from rllib_nsrl.experiments.symdqn_build import build_symdqn_config

    config = build_symdqn_config(spec, tune.grid_search(spec["conditions"]), tune.grid_search(spec["seeds"]))
    columns = {
        "score": "evaluation/env_runners/score",
        "neg": "evaluation/env_runners/negative_ratio",
        "train_score": "env_runners/score",
        "steps": "num_env_steps_sampled_lifetime",
    }
    return Plan(
        EpochDQN,
        config,
        lambda c: f"{c['_model_config']['condition']} seed={c['seed']}",
        columns,
        spec["stop"]["epochs"],
    )


def make_plan(spec: dict) -> Plan:
    kind = spec["kind"]
    if kind == "symdqn":
        return _symdqn_plan(spec)
    if kind == "ilp_lifelong":
        from rllib_nsrl.experiments.ilp_build import ilp_plan

        return ilp_plan(spec)
    if kind == "blocksworld_lifelong":
        from rllib_nsrl.experiments.blocks_build import blocks_plan

        return blocks_plan(spec)
    raise SpecError(f"kind: no runner for {kind!r}")


def trial_dirname(trial) -> str:
    c = trial.config
    if "_model_config" in c:
        tag = slug(str(c["_model_config"].get("condition")))
    else:
        tag = str(c.get("mode") or c.get("domain") or "trial")
    return f"{tag}_seed{c.get('seed')}_{trial.trial_id}"


def experiment_path(storage: str, name: str) -> str:
    return storage.rstrip("/") + "/" + name if "://" in storage else str(Path(storage).resolve() / name)


def run(
    spec: dict, *, storage: str, name: str, resume: bool = False, address: str | None = None, verbose: int = 0
):
    """Run (or resume) the experiment; returns the Tune `ResultGrid`."""
    import ray
    from ray import tune

    from rllib_nsrl.experiments.progress import ProgressPrinter

    if address:
        ray.init(address=address, log_to_driver=False)
    elif not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    plan = make_plan(spec)
    path = experiment_path(storage, name)
    progress = ProgressPrinter(plan.label, plan.columns, plan.epochs)
    if resume:
        tuner = tune.Tuner.restore(
            path, trainable=_with_resources(plan.trainable, spec), resume_errored=True, restart_errored=False
        )
    else:
        res = spec["resources"]
        tuner = tune.Tuner(
            _with_resources(plan.trainable, spec),
            param_space=plan.param_space,
            tune_config=tune.TuneConfig(
                max_concurrent_trials=res["max_concurrent_trials"] or None,
                trial_dirname_creator=trial_dirname,
                trial_name_creator=lambda t: trial_dirname(t).rsplit("_", 1)[0],
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=storage if "://" in storage else str(Path(storage).resolve()),
                stop={"training_iteration": plan.epochs},
                checkpoint_config=_checkpoint_config(plan, spec),
                failure_config=tune.FailureConfig(max_failures=spec["failure"]["max_failures"]),
                callbacks=[progress],
                verbose=verbose,
            ),
        )
    return tuner.fit()


def _checkpoint_config(plan: Plan, spec: dict):
    """Algorithms checkpoint by frequency; function trainables checkpoint themselves (task boundaries)."""
    from ray import tune

    if isinstance(plan.trainable, type):
        return tune.CheckpointConfig(
            checkpoint_frequency=spec["checkpoint"]["every_epochs"],
            checkpoint_at_end=True,
            num_to_keep=spec["checkpoint"]["keep"],
        )
    return tune.CheckpointConfig(num_to_keep=spec["checkpoint"]["keep"])


def _with_resources(trainable, spec):
    """Function trainables get the spec's resources; RLlib Algorithms request their own."""
    from ray import tune

    if isinstance(trainable, type):
        return trainable
    res = spec["resources"]
    return tune.with_resources(trainable, {"cpu": res["cpus_per_trial"], "gpu": res["gpus_per_trial"]})
