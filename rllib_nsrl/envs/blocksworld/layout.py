"""Flat observation vector of the BlocksWorld offline data: one float32 row per state (n = number of blocks).

RLlib's columnar offline format stores one ``obs``/``new_obs`` array per transition; a flat ``Box`` row keeps
it a plain tensor column that ``ray.data`` and RLlib's offline readers take as is. The row concatenates the
env's ``Dict`` observation (``envs/blocksworld/env.py``) in this order::

    nullary      [2]          HandEmpty, HandFull
    unary        [n · 3]      OnTable, Clear, Holding      (row-major [n, 3])
    binary       [n · n]      On(X, Y) at X·n + Y
    goal_unary   [n]          goal OnTable
    goal_binary  [n · n]      goal On
    action_mask  [2n² + 2n]   1 = valid action, in ``encoding.ground_actions`` order

so its width is ``4n² + 6n + 2`` (182 for 6 blocks, 306 for 8). The width determines n, which is how a
lifted model reads rows of any block count. ``unflatten`` works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from gymnasium import spaces

from rllib_nsrl.constants import ACTION_MASK
from rllib_nsrl.envs.blocksworld.encoding import BINARY, GOAL_BINARY, GOAL_UNARY, NULLARY, OBS_KEYS, UNARY

KEYS = OBS_KEYS  # the row order: nullary, unary, binary, goal_unary, goal_binary, action_mask


def _shapes(n: int) -> dict[str, tuple[int, ...]]:
    return {
        NULLARY: (2,),
        UNARY: (n, 3),
        BINARY: (n, n, 1),
        GOAL_UNARY: (n, 1),
        GOAL_BINARY: (n, n, 1),
        ACTION_MASK: (2 * n * n + 2 * n,),
    }


def flat_dim(num_blocks: int) -> int:
    """Width of a flat observation row, ``4n² + 6n + 2``."""
    return 4 * num_blocks * num_blocks + 6 * num_blocks + 2


def num_blocks_from_dim(dim: int) -> int:
    """Inverse of ``flat_dim``; ``ValueError`` if ``dim`` is not the width of any block count."""
    n = int(round((-6 + math.sqrt(36 + 16 * (dim - 2))) / 8))
    if n < 1 or flat_dim(n) != dim:
        raise ValueError(f"{dim} is not a BlocksWorld flat-observation width (4n² + 6n + 2)")
    return n


def observation_space(num_blocks: int) -> spaces.Box:
    """``Box(0, 1, [4n² + 6n + 2], float32)``: the space of flat observation rows."""
    return spaces.Box(0.0, 1.0, (flat_dim(num_blocks),), np.float32)


def flatten(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Env observation (one, or batched with a leading axis) → ``[..., 4n² + 6n + 2]`` float32."""
    lead = np.shape(obs[NULLARY])[:-1]
    parts = [np.asarray(obs[k], np.float32).reshape(*lead, -1) for k in KEYS]
    return np.concatenate(parts, axis=-1)


def unflatten(x):
    """``[..., D]`` rows (numpy or torch) → the env's observation keys with their shapes (views)."""
    n = num_blocks_from_dim(x.shape[-1])
    lead, out, start = tuple(x.shape[:-1]), {}, 0
    for key, shape in _shapes(n).items():
        size = math.prod(shape)
        out[key] = x[..., start : start + size].reshape(*lead, *shape)
        start += size
    return out
