"""Environments. Importing `rllib_nsrl` registers the Gymnasium ids; `register_tune_envs()` the Tune names."""

from __future__ import annotations

import gymnasium as gym

from rllib_nsrl.envs.atari import AtariObjectsEnv
from rllib_nsrl.envs.atari import register as register_atari_envs
from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
from rllib_nsrl.envs.strict_mask_env import StrictMaskEnv

SHAPES_GRID_ID = "rllib_nsrl/ShapesGrid-v0"
STRICT_MASK_ID = "rllib_nsrl/StrictMask-v0"
BLOCKSWORLD_ID = "rllib_nsrl/BlocksWorld-v0"


def _make_blocksworld(config=None):
    from rllib_nsrl.envs.blocksworld import BlocksWorldEnv  # lazy: pddlgym imports the old gym

    return BlocksWorldEnv(config)


# Tune/RLlib env name → creator(config)
ENV_CREATORS = {
    "ShapesGrid": ShapesGridEnv,
    "StrictMask": StrictMaskEnv,
    "BlocksWorld": _make_blocksworld,
    "AtariObjects": AtariObjectsEnv,  # needs the `insight` extra (ale-py) once built
}


def register_gym_envs() -> None:
    """Register the ids `rllib_nsrl/{ShapesGrid,BlocksWorld,StrictMask,AtariObjects}-v0` (idempotent)."""
    if SHAPES_GRID_ID not in gym.registry:
        gym.register(
            SHAPES_GRID_ID, entry_point="rllib_nsrl.envs.shapes_grid:ShapesGridEnv", kwargs={"config": None}
        )
    if BLOCKSWORLD_ID not in gym.registry:  # entry point imported lazily (PDDLGym imports the old gym)
        gym.register(BLOCKSWORLD_ID, entry_point="rllib_nsrl.envs.blocksworld.env:BlocksWorldEnv")
    if STRICT_MASK_ID not in gym.registry:
        gym.register(
            STRICT_MASK_ID,
            entry_point="rllib_nsrl.envs.strict_mask_env:StrictMaskEnv",
            kwargs={"config": None},
        )
    register_atari_envs()


def register_tune_envs() -> None:
    """Register every env with `ray.tune.register_env` (imports Ray: call only where Ray is needed)."""
    from ray.tune.registry import register_env

    for name, creator in ENV_CREATORS.items():
        register_env(name, creator)
