"""A strict toy env that raises on masked actions: masking bugs fail loudly, never silently."""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from rllib_nsrl.constants import ACTION_MASK, OBS


class MaskedActionError(RuntimeError):
    """Raised when an agent takes an action its mask forbids."""


class StrictMaskEnv(gym.Env):
    """A corridor of `length` cells; each step a random non-empty subset of `n_actions` is valid.

    Observation: ``{"observations": one-hot position [length], "action_mask": int8 [n_actions]}``.
    Action 0 moves right (when valid); reaching the end gives +1 and terminates. Taking an action
    whose mask bit is 0 raises :class:`MaskedActionError`.
    """

    def __init__(self, config: Mapping | None = None):
        cfg = dict(config or {})
        self.length = int(cfg.get("length", 6))
        self.n_actions = int(cfg.get("n_actions", 4))
        self.max_steps = int(cfg.get("max_steps", 30))
        self.observation_space = gym.spaces.Dict(
            {
                OBS: gym.spaces.Box(0.0, 1.0, (self.length,), np.float32),
                ACTION_MASK: gym.spaces.Box(0, 1, (self.n_actions,), np.int8),
            }
        )
        self.action_space = gym.spaces.Discrete(self.n_actions)
        self.masked_taken = 0

    def _obs(self):
        pos = np.zeros(self.length, dtype=np.float32)
        pos[self.pos] = 1.0
        return {OBS: pos, ACTION_MASK: self.mask.copy()}

    def _new_mask(self):
        mask = (self.np_random.random(self.n_actions) < 0.5).astype(np.int8)
        mask[self.np_random.integers(self.n_actions)] = 1  # never empty
        self.mask = mask

    def reset(self, *, seed=None, options=None):
        """Start at cell 0 with a fresh random non-empty mask."""
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        self._new_mask()
        return self._obs(), {}

    def step(self, action):
        """Take an action; raises ``MaskedActionError`` if its mask bit is 0."""
        action = int(action)
        if not self.mask[action]:
            self.masked_taken += 1
            raise MaskedActionError(f"StrictMaskEnv: action {action} is masked (mask={self.mask.tolist()})")
        self.t += 1
        if action == 0:
            self.pos = min(self.pos + 1, self.length - 1)
        terminated = self.pos == self.length - 1
        truncated = not terminated and self.t >= self.max_steps
        self._new_mask()
        return self._obs(), float(terminated), terminated, truncated, {}
