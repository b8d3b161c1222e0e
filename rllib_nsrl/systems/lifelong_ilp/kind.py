"""`kind: ilp_lifelong`: one function-trainable trial per (mode, seed)."""

from __future__ import annotations

from rllib_nsrl.experiments.kinds import Kind, Plan
from rllib_nsrl.experiments.schema import SpecError
from rllib_nsrl.systems.lifelong_ilp.domains import DOMAINS
from rllib_nsrl.systems.lifelong_ilp.spec import ILP_SMOKE, ILPSpec, trial_config


def plan(spec: dict) -> Plan:
    """Modes × seeds as Tune grid axes over `ilp_trainable`."""
    from ray import tune

    from rllib_nsrl.systems.lifelong_ilp.trainable import ilp_trainable

    space = trial_config(spec, tune.grid_search(spec["modes"]), tune.grid_search(spec["seeds"]))
    epochs = len(DOMAINS[spec["domain"]]) * spec["training"]["epochs_per_task"]
    columns = {"task": "task", "train_loss": "train_loss"}
    return Plan(
        ilp_trainable,
        space,
        lambda c: f"{c['domain']} {c['mode']} seed={c['seed']}",
        lambda c: str(c["mode"]),
        columns,
        epochs,
    )


def check(spec: dict) -> None:
    """The NLM must be able to express the domain's predicates."""
    from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig

    try:
        ILPConfig.from_dict(trial_config(spec, spec["modes"][0], spec["seeds"][0]))
    except ValueError as err:
        raise SpecError(f"model: {err}") from None


def report(trials, spec, out):
    """`nsrl analyze`: per-task learning and forgetting curves and tables."""
    from rllib_nsrl.systems.lifelong_ilp.report import write_ilp_report

    analysis = spec.get("analysis") or {}
    return write_ilp_report(
        trials,
        out,
        loss_threshold=float(analysis.get("loss_threshold", 0.1)),
        relative_threshold=analysis.get("relative_threshold", 0.5),
    )


KIND = Kind(name="ilp_lifelong", spec_model=ILPSpec, plan=plan, report=report, smoke=ILP_SMOKE, check=check)
