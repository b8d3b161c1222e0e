"""DQN whose training iteration is one paper *epoch*: N training episodes, then evaluation.

SymDQN (SPEC §1): an epoch = 50 training episodes followed by evaluation on 50 new episodes.
One `train()` call here runs DQN's own `training_step` until `train_episodes` more episodes have
finished; RLlib then evaluates for `evaluation_duration` episodes (unit "episodes").
"""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.dqn import DQN, DQNConfig
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME


class EpochDQNConfig(DQNConfig):
    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or EpochDQN)
        self.train_episodes_per_epoch = 50
        # One iteration = one epoch; no minimum time or timesteps per iteration.
        self.min_time_s_per_iteration = 0
        self.min_sample_timesteps_per_iteration = 0
        self.min_train_timesteps_per_iteration = 0

    def epoch(self, *, train_episodes: int | None = None) -> EpochDQNConfig:
        if train_episodes is not None:
            self.train_episodes_per_epoch = int(train_episodes)
        return self


class EpochDQN(DQN):
    @classmethod
    @override(DQN)
    def get_default_config(cls) -> EpochDQNConfig:
        return EpochDQNConfig()

    @override(DQN)
    def setup(self, config) -> None:
        import torch

        super().setup(config)
        # Env runner and learner share this process; concurrent trials must not each take every core.
        torch.set_num_threads(max(1, int(self.config.num_cpus_for_main_process)))
        # `debugging(seed=...)` seeds env runners and torch but not the replay buffer's own generator
        # (RLlib notes, pitfall 6): unseeded, same-seed runs diverge at the first sampled batch.
        if self.config.seed is not None and hasattr(self.local_replay_buffer, "rng"):
            self.local_replay_buffer.rng = np.random.default_rng(self.config.seed)

    def _episodes_lifetime(self) -> int:
        return int(self.metrics.peek((ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME), default=0))

    @override(DQN)
    def training_step(self) -> None:
        start = self._episodes_lifetime()
        while self._episodes_lifetime() - start < self.config.train_episodes_per_epoch:
            super().training_step()
