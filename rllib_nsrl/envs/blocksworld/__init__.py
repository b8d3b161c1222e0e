"""BlocksWorld from PDDLGym for relational RL (docs/systems/blocksworld.md#environment): env, tensor
encoding, tasks, optimal planner.

Importing this package imports PDDLGym with stderr silenced: PDDLGym imports the old ``gym``, which prints
an "unmaintained" notice on every import.
"""

import contextlib
import io

with contextlib.redirect_stderr(io.StringIO()):
    import pddlgym  # noqa: F401

from rllib_nsrl.envs.blocksworld.encoding import (  # noqa: E402
    BINARY,
    GOAL_BINARY,
    GOAL_UNARY,
    NULLARY,
    OBS_KEYS,
    UNARY,
    action_index,
    action_name,
    decode_goal,
    decode_state,
    encode_goal,
    encode_state,
    ground_actions,
    num_actions,
    valid_action_mask,
)
from rllib_nsrl.envs.blocksworld.env import BlocksWorldEnv  # noqa: E402
from rllib_nsrl.envs.blocksworld.planner import BlocksWorldPlanner, optimal_action  # noqa: E402
from rllib_nsrl.envs.blocksworld.tasks import TASKS, GoalClass, get_task  # noqa: E402

ENV_ID = "rllib_nsrl/BlocksWorld-v0"


def register() -> None:
    """Register ``ENV_ID`` with gymnasium (idempotent); kwargs of ``gymnasium.make`` go to the env."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point="rllib_nsrl.envs.blocksworld.env:BlocksWorldEnv")


__all__ = [
    "BINARY",
    "ENV_ID",
    "GOAL_BINARY",
    "GOAL_UNARY",
    "NULLARY",
    "OBS_KEYS",
    "TASKS",
    "UNARY",
    "BlocksWorldEnv",
    "BlocksWorldPlanner",
    "GoalClass",
    "action_index",
    "action_name",
    "decode_goal",
    "decode_state",
    "encode_goal",
    "encode_state",
    "get_task",
    "ground_actions",
    "num_actions",
    "optimal_action",
    "register",
    "valid_action_mask",
]
