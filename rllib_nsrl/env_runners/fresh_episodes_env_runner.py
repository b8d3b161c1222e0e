"""An EnvRunner whose every episode-count `sample()` call sees new start states.

RLlib's `SingleAgentEnvRunner.sample(num_episodes=...)` re-arms its initial reset, and that reset
re-seeds the env with the runner's fixed seed: every evaluation would replay the same 50 start
states. The paper evaluates each epoch on 50 *new* episodes, so this runner derives a fresh,
deterministic seed for the k-th such call from (runner seed, k).
"""

from __future__ import annotations

from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.annotations import override


class FreshEpisodesEnvRunner(SingleAgentEnvRunner):
    @override(SingleAgentEnvRunner)
    def sample(self, *, num_timesteps=None, num_episodes=None, **kwargs):
        if num_episodes is not None and self.config.seed is not None:
            if not hasattr(self, "_episode_calls"):
                self._base_seed, self._episode_calls = int(self._seed), 0
            # `_seed` is what the re-armed initial reset passes to env.reset(seed=...).
            self._seed = (self._base_seed * 1_000_003 + self._episode_calls * 7_919) % (2**31 - 1)
            self._episode_calls += 1
        return super().sample(num_timesteps=num_timesteps, num_episodes=num_episodes, **kwargs)
