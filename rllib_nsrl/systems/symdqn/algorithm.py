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
from ray.rllib.algorithms.dqn.dqn import calculate_rr_weights
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    NUM_EPISODES_LIFETIME,
    TD_ERROR_KEY,
    TIMERS,
)

from rllib_nsrl.exact_restore import ExactRestoreMixin
from rllib_nsrl.ray_private import (
    learner_update,
    local_learner,
    rearm_initial_reset,
    replace_runner_connectors,
    seed_replay_buffer,
    share_weights_version,
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
        self._flat_replay = None
        if self.config.dqn_loop == "lean":
            self._setup_lean_loop()

    def _setup_lean_loop(self) -> None:
        """The lean loop (`dqn.loop: lean`): a flat replay buffer, the env runner acting with the
        learner's own module object instead of a copy synced after every training step, and one-piece
        connectors on that runner (`connectors/lean.py`)."""
        from rllib_nsrl.connectors.lean import ActionsToNumpy, LatestObservationBatch
        from rllib_nsrl.systems.symdqn.flat_replay import FlatReplayBuffer

        learner = local_learner(self)
        if learner is None or self.env_runner is None:  # validate() rules this out; a bug if it happens
            raise RuntimeError("dqn.loop 'lean' needs a local learner and a local env runner")
        capacity = int(self.config.replay_buffer_config["capacity"])
        self._flat_replay = FlatReplayBuffer(capacity, seed=self.config.seed)
        self._lean_learner = learner
        # one process, one module: the weights the runner acts with are always the learner's latest
        self.env_runner.module = learner.module[DEFAULT_MODULE_ID]
        # one connector piece each way instead of RLlib's ≈ 12 timed pieces per env step
        replace_runner_connectors(self.env_runner, LatestObservationBatch, ActionsToNumpy)

    def _episodes_lifetime(self) -> int:
        return int(self.metrics.peek((ENV_RUNNER_RESULTS, NUM_EPISODES_LIFETIME), default=0))

    @override(DQN)
    def training_step(self) -> None:
        start = self._episodes_lifetime()
        step = self._lean_training_step if self._flat_replay is not None else super().training_step
        while self._episodes_lifetime() - start < self.config.train_episodes_per_epoch:
            step()
        if self.config.seed is not None and self.env_runner is not None:
            # the next epoch starts new games: nothing is in progress at this epoch's checkpoint
            epoch = self.training_iteration + 2  # `training_iteration` counts this epoch after it returns
            start_fresh_episodes_at_next_sample(self.env_runner, epoch_seed(self.config.seed, epoch))

    def _lean_training_step(self) -> None:
        """DQN's training step (sample, store, k updates) on the lean loop: transitions go to the flat
        buffer, the learner gets ready train batches (no learner connector) and reduces its metrics
        once per training step; no weight sync (the runner shares the learner's module)."""
        store_weight, train_weight = calculate_rr_weights(self.config)
        for _ in range(store_weight):
            with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
                episodes = self.env_runner.sample()
            self.metrics.aggregate([self.env_runner.get_metrics()], key=ENV_RUNNER_RESULTS)
            self._flat_replay.add_episodes(episodes)
        sampled = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        if sampled < self.config.num_steps_sampled_before_learning_starts:
            return
        timesteps = {
            NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled,
            NUM_AGENT_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                (ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={}
            ),
        }
        size = int(self.config.total_train_batch_size)
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            for i in range(train_weight):
                batch = SampleBatch(self._flat_replay.sample(size))
                results = learner_update(
                    self._lean_learner,
                    batch=MultiAgentBatch({DEFAULT_MODULE_ID: batch}, env_steps=size),
                    timesteps=timesteps,
                    reduce_metrics=i == train_weight - 1,
                )
            for module_results in results.values():  # as DQN's own step: TD errors are not results
                module_results.pop(TD_ERROR_KEY, None)
            self.metrics.aggregate([results], key=LEARNER_RESULTS)
        share_weights_version(self.env_runner, self._lean_learner)

    # --- exact restore (rllib_nsrl/exact_restore.py) ----------------------------------------------

    def _exact_state(self) -> dict:
        state = super()._exact_state()
        if self._flat_replay is not None:
            state["flat_replay"] = self._flat_replay.get_state()
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

        if self._flat_replay is not None and "flat_replay" in state:
            self._flat_replay.set_state(state["flat_replay"])
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
