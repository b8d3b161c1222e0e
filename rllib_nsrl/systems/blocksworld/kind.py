"""`kind: blocksworld_lifelong`: the offline data first (reused when complete), then one function-trainable
trial per (mode, seed); `nsrl collect` makes the data alone."""

from __future__ import annotations

from pathlib import Path

from rllib_nsrl.experiments.kinds import Kind, Plan
from rllib_nsrl.experiments.schema import SpecError
from rllib_nsrl.systems.blocksworld.spec import BLOCKS_SMOKE, BlocksSpec, iterations, trial_config


def plan(spec: dict) -> Plan:
    """Called once Ray is up: collects missing datasets with Ray tasks before training."""
    from ray import tune

    from rllib_nsrl.systems.blocksworld.collect import DataSettings, ensure_dataset
    from rllib_nsrl.systems.blocksworld.trainable import blocks_trainable

    folder = ensure_dataset(DataSettings.from_spec(spec), spec["data"]["dir"])
    space = trial_config(spec, tune.grid_search(spec["modes"]), tune.grid_search(spec["seeds"]), str(folder))
    columns = {"task": "task", "steps": "eval_steps", "success": "eval_success", "critic": "critic_loss"}
    return Plan(
        blocks_trainable,
        space,
        lambda c: f"{c['mode']} seed={c['seed']}",
        lambda c: str(c["mode"]),
        columns,
        iterations(spec),
    )


def check(spec: dict) -> None:
    """The domain file parses, evaluations divide the updates, and every task fits the block counts."""
    domain = spec["env"]["domain_file"]
    if domain is not None:
        from rllib_nsrl.envs.blocksworld.pddl_files import load_domain

        if not Path(domain).is_file():
            raise SpecError(f"env.domain_file: {domain}: no such file")
        spec["env"]["domain_file"] = str(Path(domain).resolve())  # trials run in other directories
        try:
            load_domain(domain)
        except ValueError as err:  # "<file>:<line>: message"
            raise SpecError(f"env.domain_file: {err}") from None
    t = spec["training"]
    if t["updates_per_task"] % t["eval_every"]:
        raise SpecError(
            f"training.eval_every: {t['eval_every']} must divide updates_per_task ({t['updates_per_task']})"
        )
    if len(spec["model"]["kb_channels"]) != len(spec["model"]["head_channels"]):
        raise SpecError("model.head_channels: must list the same arities as model.kb_channels")
    from rllib_nsrl.envs.blocksworld.tasks import get_task

    for task in spec["tasks"]:
        need = get_task(task).num_constrained
        for key in ("env", "generalisation"):
            if spec[key]["num_blocks"] < need:
                raise SpecError(f"{key}.num_blocks: task {task} constrains {need} blocks")


def report(trials, spec, out):
    """`nsrl analyze`: success and steps-to-goal per task, lifelong vs individual."""
    from rllib_nsrl.systems.blocksworld.report import write_blocks_report

    return write_blocks_report(trials, out)


def collect(spec: dict, out_dir: str | None, address: str | None) -> int:
    """`nsrl collect`: the spec's planner datasets."""
    from rllib_nsrl.systems.blocksworld.collect import run_collect

    return run_collect(spec, out_dir=out_dir, address=address)


KIND = Kind(
    name="blocksworld_lifelong",
    spec_model=BlocksSpec,
    plan=plan,
    report=report,
    smoke=BLOCKS_SMOKE,
    check=check,
    collect=collect,
)
