"""Checkpoints from which an RLlib Algorithm continues bit for bit (the same numbers as a run never stopped).

RLlib's checkpoint holds the modules, optimizers, connectors and the Algorithm's metrics, but not the
state that decides which data comes next: the global Python/numpy/torch generators (action sampling,
minibatch shuffling), the env runners' metrics, the learner's metrics (running means), and whatever the
Algorithm keeps beside (a replay buffer, envs in mid-game). `ExactRestoreMixin` writes that into the
checkpoint folder as `nsrl_exact_state.pkl` and reads it back after RLlib's own restore; each Algorithm
adds its own parts by extending `_exact_state` / `_set_exact_state`. A checkpoint without the file
(older runs) restores as RLlib does.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np

from rllib_nsrl.ray_private import local_learner

EXACT_STATE_FILE = "nsrl_exact_state.pkl"


def global_rng_state() -> dict:
    """The global Python, numpy and torch (CPU) generator states."""
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_global_rng_state(state: dict) -> None:
    """Restore `global_rng_state()`."""
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


class ExactRestoreMixin:
    """Algorithm mixin (list it before the Algorithm class): checkpoints that continue bit for bit."""

    def _exact_state(self) -> dict:
        """What the next iterations depend on beyond RLlib's checkpoint; extend in subclasses."""
        state = {"rng": global_rng_state()}
        for key, runner in (("env_runner", self.env_runner), ("eval_env_runner", self.eval_env_runner)):
            if runner is not None:
                state[key + "_metrics"] = runner.metrics.get_state()
        learner = local_learner(self)
        if learner is not None:
            state["learner_metrics"] = learner.metrics.get_state()
        return state

    def _set_exact_state(self, state: dict) -> None:
        """Apply `_exact_state()`; the generators last, so nothing restored after them draws from them."""
        for key, runner in (("env_runner", self.env_runner), ("eval_env_runner", self.eval_env_runner)):
            if runner is not None and key + "_metrics" in state:
                runner.metrics.set_state(state[key + "_metrics"])
        learner = local_learner(self)
        if learner is not None and "learner_metrics" in state:
            learner.metrics.set_state(state["learner_metrics"])
        set_global_rng_state(state["rng"])

    def save_to_path(self, path=None, *, state=None, filesystem=None, use_msgpack=False):
        """RLlib's checkpoint, plus `nsrl_exact_state.pkl`."""
        path = super().save_to_path(path, state=state, filesystem=filesystem, use_msgpack=use_msgpack)
        if filesystem is None and state is None:
            with open(Path(path) / EXACT_STATE_FILE, "wb") as f:
                pickle.dump(self._exact_state(), f)
        return path

    def restore_from_path(self, path, *, component=None, filesystem=None, **kwargs):
        """RLlib's restore, then the exact state when the checkpoint has it."""
        super().restore_from_path(path, component=component, filesystem=filesystem, **kwargs)
        exact = Path(path) / EXACT_STATE_FILE
        if component is None and filesystem is None and exact.is_file():
            with open(exact, "rb") as f:
                self._set_exact_state(pickle.load(f))
