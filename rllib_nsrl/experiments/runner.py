"""Run a validated spec with Ray Tune: local Ray by default, or an existing cluster (`address`).

Every experiment kind maps a spec to a `Plan` (trainable, param_space, label, tag, progress columns, epochs);
conditions or modes and seeds are Tune grid axes. Results land in `<storage>/<name>` (a local path or
a URI, see `cluster.Location`). `make_plan` is called once Ray is up (some plans prepare data with Ray).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from rllib_nsrl.experiments.cluster import Location
from rllib_nsrl.experiments.kinds import Plan, get_kind

# Loopback-only Ray on single-node Linux (docs/cluster.md): set before Ray is imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def make_plan(spec: dict) -> Plan:
    """The kind's Tune plan of a validated spec (called once Ray is up)."""
    return get_kind(spec["kind"]).plan(spec)


def trial_dirname(trial, tag: Callable[[dict], str] | None = None) -> str:
    """'<tag>_seed<seed>_<trial id>': the kind's tag of the trial config (plain 'trial' without one)."""
    c = trial.config
    return f"{tag(c) if tag else 'trial'}_seed{c.get('seed')}_{trial.trial_id}"


def connect(address: str | None = None) -> None:
    """Attach to the cluster at `address` ('auto' inside `ray job submit`), else start a local Ray."""
    import ray

    if address:
        ray.init(address=address, log_to_driver=False)
    elif not ray.is_initialized():
        ray.init(address="local", include_dashboard=False, log_to_driver=False)  # never a stray cluster


def _variants(plan: Plan):
    from ray.tune.search.variant_generator import generate_variants

    space = plan.param_space.to_dict() if hasattr(plan.param_space, "to_dict") else plan.param_space
    return [resolved for _, resolved in generate_variants(space)]


def count_trials(plan: Plan) -> int:
    """Number of trials in the plan's Tune grid (the resolved variants of its param_space)."""
    return len(_variants(plan))


def trial_resources(plan: Plan, spec: dict) -> tuple[list[dict], str]:
    """(resource bundles, placement strategy) of one trial: an RLlib Algorithm asks for its own
    (`num_cpus_for_main_process`, `num_gpus_per_learner`, runners); a function trainable gets the spec's."""
    if isinstance(plan.trainable, type):
        import logging

        rllib_log = logging.getLogger("ray.rllib")
        level = rllib_log.level
        rllib_log.setLevel(logging.ERROR)  # validating the config repeats RLlib's new-API-stack notice
        try:
            request = plan.trainable.default_resource_request(_variants(plan)[0])
        finally:
            rllib_log.setLevel(level)
        if request is not None:
            return [dict(b) for b in request.bundles], request.strategy
    res = spec["resources"]
    return [{"CPU": res["cpus_per_trial"], "GPU": res["gpus_per_trial"]}], "PACK"


def run(spec: dict, plan: Plan, *, storage: Location, name: str, resume: bool = False, verbose: int = 0):
    """Run (or resume) the experiment on the connected Ray; returns the Tune `ResultGrid`."""
    from ray import tune

    from rllib_nsrl.experiments.csv_log import ExactlyOnceJsonLogger, ResumableCSVLogger
    from rllib_nsrl.experiments.progress import ProgressPrinter

    trainable = _with_resources(plan.trainable, spec)
    if resume:
        # param_space again: Tune stores its non-primitive values (the RLlib config's classes) as
        # placeholders, which trials created after the restore cannot resolve without it.
        tuner = tune.Tuner.restore(
            storage.child(name).uri,
            trainable=trainable,
            resume_errored=True,
            restart_errored=False,
            param_space=plan.param_space,
        )
        return tuner.fit()
    res = spec["resources"]
    tuner = tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            max_concurrent_trials=res["max_concurrent_trials"] or None,
            trial_dirname_creator=functools.partial(trial_dirname, tag=plan.tag),
            trial_name_creator=lambda t: trial_dirname(t, plan.tag).rsplit("_", 1)[0],
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage.uri,
            stop={"training_iteration": plan.epochs},
            checkpoint_config=_checkpoint_config(plan, spec),
            failure_config=tune.FailureConfig(max_failures=spec["failure"]["max_failures"]),
            callbacks=[
                ProgressPrinter(plan.label, plan.columns, plan.epochs, run_dir=storage.child(name).uri),
                ExactlyOnceJsonLogger(),
                ResumableCSVLogger(),
            ],
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
