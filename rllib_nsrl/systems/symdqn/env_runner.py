"""An EnvRunner whose every episode-count `sample()` call sees new start states.

RLlib's `SingleAgentEnvRunner.sample(num_episodes=...)` re-arms its initial reset, and that reset
re-seeds the env with the runner's fixed seed: every evaluation would replay the same 50 start
states. The paper evaluates each epoch on 50 *new* episodes, so this runner derives a fresh,
deterministic seed for the k-th such call from (runner seed, k).
"""

from __future__ import annotations

from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.annotations import override

from rllib_nsrl.ray_private import env_runner_seed, set_env_runner_seed


class FreshEpisodesEnvRunner(SingleAgentEnvRunner):
    """`SingleAgentEnvRunner` whose every `sample(num_episodes=...)` starts from a new derived seed."""

    @override(SingleAgentEnvRunner)
    def sample(self, *, num_timesteps=None, num_episodes=None, **kwargs):
        if num_episodes is not None and self.config.seed is not None:
            if not hasattr(self, "_episode_calls"):
                self._base_seed, self._episode_calls = int(env_runner_seed(self)), 0
            seed = (self._base_seed * 1_000_003 + self._episode_calls * 7_919) % (2**31 - 1)
            set_env_runner_seed(self, seed)
            self._episode_calls += 1
        return super().sample(num_timesteps=num_timesteps, num_episodes=num_episodes, **kwargs)
