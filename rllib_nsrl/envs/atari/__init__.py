"""Atari with an object teacher for INSIGHT (Luo et al., ICML 2024): `AtariObjectsEnv`, per-game object slots.

Importing this package needs neither ale-py nor opencv (the optional ``insight`` extra); building an env does.
"""

from rllib_nsrl.envs.atari.env import (
    DEFAULTS,
    INFO_GAME_OVER,
    INFO_OBJECTS,
    INFO_RAW_REWARD,
    AtariObjectsEnv,
)
from rllib_nsrl.envs.atari.objects import (
    OBJECT_FEATURES,
    OBJECT_SLOTS,
    SUPPORTED_GAMES,
    check_game,
    normalize_boxes,
    objects_from_ram,
    ram_boxes,
    variable_names,
)

ENV_ID = "rllib_nsrl/AtariObjects-v0"


def register() -> None:
    """Register ``ENV_ID`` with gymnasium (idempotent); use ``gymnasium.make(ENV_ID, config={...})``."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(
            ENV_ID, entry_point="rllib_nsrl.envs.atari.env:AtariObjectsEnv", kwargs={"config": None}
        )


__all__ = [
    "DEFAULTS",
    "ENV_ID",
    "INFO_GAME_OVER",
    "INFO_OBJECTS",
    "INFO_RAW_REWARD",
    "OBJECT_FEATURES",
    "OBJECT_SLOTS",
    "SUPPORTED_GAMES",
    "AtariObjectsEnv",
    "check_game",
    "normalize_boxes",
    "objects_from_ram",
    "ram_boxes",
    "register",
    "variable_names",
]
