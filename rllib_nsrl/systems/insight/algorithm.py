"""`InsightPPO`: RLlib's PPO with INSIGHT's evaluation every `eval_every` iterations.

Each evaluation adds `result["insight"]`: full-game scores of the neural actor (sampled, as it acts in
training) and of the EQL actor (sampled, the paper's reference, and greedy), coordinate MAE
of perception in pixels on the dataset's test split (per slot), and the EQL/neural argmax agreement
there. RLlib's own evaluation stays off: its episode metrics count lives, not games.

Checkpoints continue bit for bit (`rllib_nsrl/exact_restore.py`): beside RLlib's state they hold the
games in progress (each env's emulator state with its RNG, frame and object stacks, lives), the episodes
the env runner is building, its cached connector output, the vector env's autoreset flags and the global
generators; the evaluation seeds follow the iteration.
"""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.utils.annotations import override

from rllib_nsrl.exact_restore import ExactRestoreMixin
from rllib_nsrl.ray_private import env_runner_exact_state, set_env_runner_exact_state
from rllib_nsrl.seeding import derive_seed

RESULT_KEY = "insight"


class InsightPPO(ExactRestoreMixin, PPO):
    """PPO with the INSIGHT module, learner and evaluation (`InsightPPOConfig`)."""

    def _exact_state(self) -> dict:
        state = super()._exact_state()
        if self.env_runner is not None:
            state["env_runner_exact"] = env_runner_exact_state(self.env_runner)
        return state

    def _set_exact_state(self, state: dict) -> None:
        if self.env_runner is not None and "env_runner_exact" in state:
            set_env_runner_exact_state(self.env_runner, state["env_runner_exact"])
        super()._set_exact_state(state)

    @classmethod
    @override(PPO)
    def get_default_config(cls):
        from rllib_nsrl.systems.insight.config import InsightPPOConfig

        return InsightPPOConfig()

    @override(PPO)
    def setup(self, config) -> None:
        super().setup(config)
        self._eval_module = None
        self._test_split = None

    @override(PPO)
    def step(self) -> dict:
        """One PPO update; every `eval_every` updates, and after the last update of the budget (so the
        final numbers are those of the trained policy), the full-game evaluation of `evaluate_insight`."""
        result = super().step()
        number = self.iteration + 1  # this update's 1-based number (`iteration` counts it after `step`)
        last = max(1, int(self.config.total_steps) // int(self.config.total_train_batch_size))
        if number % self.config.eval_every == 0 or number == last:
            result[RESULT_KEY] = self.evaluate_insight()
        return result

    def _module(self):
        if self._eval_module is None:
            import torch

            spec = self.config.get_rl_module_spec(spaces=self._spaces())
            # its random init (overwritten at once) must not draw from the global generator that training
            # uses, or a restored run, which builds it later, would sample differently
            with torch.random.fork_rng(devices=[]):
                self._eval_module = spec.build()
        self._eval_module.set_state(self.learner_group.get_weights([DEFAULT_MODULE_ID])[DEFAULT_MODULE_ID])
        return self._eval_module

    def _spaces(self):
        from rllib_nsrl.envs.atari import AtariObjectsEnv

        env = AtariObjectsEnv({"game": self.config.env_config.get("game", "Pong")})
        spaces = (env.observation_space, env.action_space)
        env.close()
        return {DEFAULT_MODULE_ID: spaces}

    def evaluate_insight(self) -> dict:
        """Scores of each actor over `eval_episodes` full games, and perception on the test split."""
        from rllib_nsrl.envs.atari import OBJECT_SLOTS
        from rllib_nsrl.systems.insight.evaluation import perception_metrics, play

        c = self.config
        game = c.env_config.get("game", "Pong")
        module = self._module()
        seed = derive_seed(c.seed or 0, self.iteration + 1)
        common = {
            "episodes": c.eval_episodes,
            "seed": seed,
            "max_episode_frames": c.eval_max_episode_frames,
            "fire_reset": c.env_config.get("fire_reset", True),
            "noop_max": c.env_config.get("noop_max", 30),
        }
        runs = {}
        if module.pi is not None:
            runs["neural"] = play(module, game, actor="neural", greedy=False, **common)
        if module.use_eql:
            runs["eql"] = play(module, game, actor="eql", greedy=False, **common)
            if c.eval_eql_greedy:
                runs["eql_greedy"] = play(module, game, actor="eql", greedy=True, **common)
        out = {f"{name}_return": float(np.mean(scores)) for name, scores in runs.items()}
        if c.perception_data and module.perception.heads is not None:
            if self._test_split is None:
                from rllib_nsrl.systems.insight.data import load_split

                self._test_split = load_split(c.perception_data, "test")
            out.update(perception_metrics(module, *self._test_split, OBJECT_SLOTS[game]))
        return out
