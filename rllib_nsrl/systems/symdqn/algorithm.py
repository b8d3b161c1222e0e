"""`EpochDQN`: DQN whose training iteration is one paper *epoch*: N training episodes, then evaluation.

An epoch of the SymDQN paper is 50 training episodes followed by evaluation on 50 new episodes
(docs/systems/symdqn.md). One `train()` here runs DQN's own `training_step` until `train_episodes_per_epoch`
more episodes have finished; RLlib then evaluates for `evaluation_duration` episodes (unit "episodes").

**Exact restore.** Every epoch starts fresh training episodes from a seed derived from (seed, epoch) —
the few steps of an episode begun at the end of the previous epoch are dropped from the env (they are
already in the replay buffer) — so no game is in progress at a checkpoint. A checkpoint then holds, beside
RLlib's own state, everything else the next epochs depend on (`nsrl_exact_state.pkl`): the replay buffer
and its sampling generator, the global Python/numpy/torch generators, the env runners' episode-seed
counters and metrics, and the learner's patch store, update and restart counters and metrics
(`rllib_nsrl/exact_restore.py`). A run restored after epoch k gives the same per-epoch numbers as one
that was never interrupted.
"""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.dqn import DQN
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME

from rllib_nsrl.exact_restore import ExactRestoreMixin
from rllib_nsrl.ray_private import (
    local_learner,
    rearm_initial_reset,
    seed_replay_buffer,
    start_fresh_episodes_at_next_sample,
)


def epoch_seed(seed: int, epoch: int) -> int:
    """The training-episode seed of epoch `epoch` (≥ 2; epoch 1 uses the env runner's own seed)."""
    return (seed * 1_000_033 + epoch * 104_729 + 17) % (2**31 - 1)


class EpochDQN(ExactRestoreMixin, DQN):
    """DQN with one paper epoch per iteration; built from `SymDQNConfig`."""

    @classmethod
    @override(DQN)
    def get_default_config(cls):
        from rllib_nsrl.systems.symdqn.config import SymDQNConfig

        return SymDQNConfig()

    @override(DQN)
    def setup(self, config) -> None:
        import torch

        super().setup(config)
        # Env runner and learner share this process; concurrent trials must not each take every core.
        torch.set_num_threads(max(1, int(self.config.num_cpus_for_main_process)))
        # `debugging(seed=...)` seeds env runners and torch but not the replay buffer's own generator:
        # unseeded, same-seed runs diverge at the first sampled batch.
        if self.config.seed is not None:
            seed_replay_buffer(self.local_replay_buffer, np.random.default_rng(self.config.seed))

    def _episodes_lifetime(self) -> int:
        return int(self.metrics.peek((ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME), default=0))

    @override(DQN)
    def training_step(self) -> None:
        start = self._episodes_lifetime()
        while self._episodes_lifetime() - start < self.config.train_episodes_per_epoch:
            super().training_step()
        if self.config.seed is not None and self.env_runner is not None:
            # the next epoch starts new games: nothing is in progress at this epoch's checkpoint
            epoch = self.training_iteration + 2  # `training_iteration` counts this epoch after it returns
            start_fresh_episodes_at_next_sample(self.env_runner, epoch_seed(self.config.seed, epoch))

    # --- exact restore (rllib_nsrl/exact_restore.py) ----------------------------------------------

    def _exact_state(self) -> dict:
        state = super()._exact_state()
        buffer = self.local_replay_buffer
        if buffer is not None:
            state["replay_buffer"] = buffer.get_state()
            if hasattr(buffer, "rng"):
                state["replay_rng"] = buffer.rng.bit_generator.state
        for key, runner in (("env_runner", self.env_runner), ("eval_env_runner", self.eval_env_runner)):
            if runner is not None:
                state[key + "_counters"] = {
                    k: getattr(runner, k)
                    for k in ("_seed", "_base_seed", "_episode_calls")
                    if hasattr(runner, k)
                }
        learner = local_learner(self)
        if learner is not None:
            state["learner"] = {
                "patch_sets": {
                    mid: ps.state_dict() for mid, ps in getattr(learner, "_patch_sets", {}).items()
                },
                "updates": dict(getattr(learner, "_updates", {})),
                "restarts": dict(getattr(learner, "_restarts", {})),
            }
        return state

    def _set_exact_state(self, state: dict) -> None:
        from rllib_nsrl.symbolic.patches import UniquePatchSet

        buffer = self.local_replay_buffer
        if buffer is not None and "replay_buffer" in state:
            buffer.set_state(state["replay_buffer"])
            if "replay_rng" in state and hasattr(buffer, "rng"):
                buffer.rng.bit_generator.state = state["replay_rng"]
        for key, runner in (("env_runner", self.env_runner), ("eval_env_runner", self.eval_env_runner)):
            if runner is not None and key + "_counters" in state:
                for name, value in state[key + "_counters"].items():
                    setattr(runner, name, value)
                if key == "env_runner":
                    rearm_initial_reset(runner)  # new games from the saved seed
        learner = local_learner(self)
        if learner is not None and "learner" in state:
            saved = state["learner"]
            learner._patch_sets = {}
            for mid, ps_state in saved["patch_sets"].items():
                patch_set = UniquePatchSet(ps_state["capacity"])
                patch_set.load_state_dict(ps_state)
                learner._patch_sets[mid] = patch_set
            learner._updates, learner._restarts = dict(saved["updates"]), dict(saved["restarts"])
        super()._set_exact_state(state)
