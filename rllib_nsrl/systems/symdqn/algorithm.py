"""`EpochDQN`: DQN whose training iteration is one paper *epoch*: N training episodes, then evaluation.

An epoch of the SymDQN paper is 50 training episodes followed by evaluation on 50 new episodes
(docs/systems/symdqn.md). One `train()` here runs DQN's own `training_step` until `train_episodes_per_epoch`
more episodes have finished; RLlib then evaluates for `evaluation_duration` episodes (unit "episodes").
"""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.dqn import DQN
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME

from rllib_nsrl.ray_private import seed_replay_buffer


class EpochDQN(DQN):
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
