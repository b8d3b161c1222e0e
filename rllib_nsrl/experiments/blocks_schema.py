"""Schema of `kind: blocksworld_lifelong` specs (offline lifelong NLM actor-critic on BlocksWorld; SPEC §2).

Defaults are the paper's values where it gives them (6 blocks, 50 000 transitions per task, exploration 0.8,
KB ``[4,4,4,4]``-style channels, head ``[8,8,8,8]``, actor/critic lr 3e-3, target copy rate 0.05,
temperature 1.5). Channel lists give one entry per arity 0..B; B = 2 by default (see
``rl_modules/nlm_actor_critic.py`` for why breadth 2 suffices for BlocksWorld).
"""

from __future__ import annotations

from rllib_nsrl.experiments.schema import Field, Section, SpecError

MODES = ("individual", "lifelong")
NUM_TASKS = 5


def _channels(default):
    return Field(list, default, item=Field(int, min=0), min_len=3)


def _distinct(values):
    return "listed twice" if len(set(values)) != len(values) else None


BLOCKS_SCHEMA = {
    "modes": Field(list, list(MODES), item=Field(str, choices=MODES), min_len=1, check=_distinct),
    "tasks": Field(
        list, list(range(NUM_TASKS)), item=Field(int, min=0, max=NUM_TASKS - 1), min_len=1, check=_distinct
    ),
    "env": Section(
        {
            "num_blocks": Field(int, 6, min=2),
            "max_steps": Field(int, 50, min=1),
            # a PDDL domain file to load instead of the built-in one (same predicates and operators)
            "domain_file": Field(str, None, nullable=True),
        }
    ),
    "data": Section(
        {
            "dir": Field(str, "runs/datasets/blocksworld"),  # root; one sub-folder per data setting
            "transitions_per_task": Field(int, 50_000, min=1),
            "exploration": Field(float, 0.8, min=0.0, max=1.0),
            "seed": Field(int, 0, min=0),
            "shards_per_task": Field(int, 4, min=1),  # parallel Ray tasks per task
        }
    ),
    "model": Section(
        {
            "kb_depth": Field(int, 4, min=1),
            "kb_channels": _channels([4, 4, 4]),
            "head_channels": _channels([8, 8, 8]),
            "temperature": Field(float, 1.5, min=1e-6),
            "logit_scale": Field(float, 5.0, min=1e-6),
            "exclude_self": Field(bool, True),
            "actor_trains_kb": Field(bool, False),  # False: the KB learns from the critic loss only
        }
    ),
    "training": Section(
        {
            "updates_per_task": Field(int, 3000, min=1),
            "eval_every": Field(int, 250, min=1),  # updates between evaluations (= one Tune iteration)
            "batch_size": Field(int, 64, min=1),
            "actor_lr": Field(float, 3e-3, min=0.0),
            "critic_lr": Field(float, 3e-3, min=0.0),
            "tau": Field(float, 0.05, min=0.0, max=1.0),
            "gamma": Field(float, 0.9, min=0.0, max=1.0),  # ours (the paper gives none): see the learner
            "reward_scale": Field(float, 0.01, min=0.0),
            "actor_weighting": Field(str, "binary", choices=("binary", "exp")),
            "beta": Field(float, 1.0, min=1e-6),
            "max_weight": Field(float, 20.0, min=0.0),
            "grad_clip": Field(float, 10.0, min=0.0, nullable=True),
        }
    ),
    "evaluation": Section({"episodes": Field(int, 20, min=1), "greedy": Field(bool, True)}),
    "generalisation": Section(
        {
            "num_blocks": Field(int, 8, min=2),
            "episodes": Field(int, 20, min=1),
            "max_steps": Field(int, 50, min=1),
        }
    ),
}

BLOCKS_SMOKE = {
    "_max_seeds": 1,
    "data": {"dir": "runs/datasets/blocksworld_smoke", "transitions_per_task": 200, "shards_per_task": 1},
    "model": {"kb_depth": 1},
    "training": {"updates_per_task": 4, "eval_every": 2, "batch_size": 16},
    "evaluation": {"episodes": 2},
    "generalisation": {"episodes": 2, "max_steps": 20},
}


def check_blocks(spec: dict) -> None:
    domain = spec["env"]["domain_file"]
    if domain is not None:
        from pathlib import Path

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


def iterations(spec: dict) -> int:
    """Tune iterations of one trial: one per evaluation."""
    t = spec["training"]
    return len(spec["tasks"]) * (t["updates_per_task"] // t["eval_every"])


def trial_config(spec: dict, mode, seed, data_dir: str) -> dict:
    """The `blocks_trainable` config of one (mode, seed) trial (either may be a Tune grid axis)."""
    return {
        "mode": mode,
        "seed": seed,
        "data_dir": data_dir,
        "tasks": list(spec["tasks"]),
        "env": dict(spec["env"]),
        "model": dict(spec["model"]),
        "training": dict(spec["training"]),
        "evaluation": dict(spec["evaluation"]),
        "generalisation": dict(spec["generalisation"]),
    }
