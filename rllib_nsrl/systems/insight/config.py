"""`InsightPPOConfig`: RLlib's `PPOConfig` with INSIGHT's settings as typed attributes.

`InsightPPOConfig()` is the paper's Atari setup on Pong (docs/systems/insight.md): 8 envs × 128 steps,
4 epochs of 4 minibatches, clip 0.1, entropy 0.01, value 0.5, grad-norm 0.5, γ 0.99, λ 0.95, Adam
2.5e-4 (ε 1e-5) annealed to 0 over 10 M steps (for another length pass `training(lr=[[0, 2.5e-4], [T, 0.0]])`
and `insight(total_steps=T)`); the INSIGHT module and learner of the chosen `condition`.

    config = (InsightPPOConfig().environment(env_config={"game": "Pong"})
              .insight(condition="INSIGHT", perception_data="runs/datasets/insight/pong_...")
              .debugging(seed=0))
    algo = config.build_algo()

The INSIGHT settings are set with `insight(...)` (defaults: `spec.InsightLossSpec`, `spec.ModelSpec`),
reach the module through `_model_config_auto_includes` and the learner as `self.config.<name>`.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.annotations import override
from ray.rllib.utils.from_config import NotProvided

from rllib_nsrl.systems.insight.conditions import CONDITIONS
from rllib_nsrl.systems.insight.spec import EvaluationSpec, InsightLossSpec, ModelSpec, PPOSpec, PretrainSpec

ENV_NAME = "AtariObjects"
INSIGHT_KEYS = (
    *InsightLossSpec.model_fields,
    *ModelSpec.model_fields,
    "condition",
    "perception_weights",
    "perception_data",
    "total_steps",
    "adam_eps",
    "minibatching",
    "object_weights",
    "size_weight",
    "focal_gamma",
    "eval_every",
    "eval_episodes",
    "eval_max_episode_frames",
    "eval_eql_greedy",
)


class InsightPPOConfig(PPOConfig):
    """PPO config of INSIGHT; see the module docstring."""

    def __init__(self, algo_class=None):
        from rllib_nsrl.envs import register_tune_envs
        from rllib_nsrl.systems.insight.algorithm import InsightPPO

        super().__init__(algo_class=algo_class or InsightPPO)
        register_tune_envs()
        self.condition = "INSIGHT"
        for model in (InsightLossSpec, ModelSpec):
            for key, value in model().model_dump().items():
                setattr(self, key, value)
        ppo, ev = PPOSpec(), EvaluationSpec()
        self.perception_weights = None
        self.perception_data = None
        self.total_steps = ppo.total_steps
        self.adam_eps = ppo.adam_eps
        self.minibatching = ppo.minibatching
        pre = PretrainSpec()
        self.size_weight, self.focal_gamma, self.object_weights = (
            pre.size_weight,
            pre.focal_gamma,
            pre.object_weights,
        )
        self.eval_every, self.eval_episodes = ev.every, ev.episodes
        self.eval_max_episode_frames, self.eval_eql_greedy = ev.max_episode_frames, ev.eql_greedy
        self.min_time_s_per_iteration = 0
        self.min_sample_timesteps_per_iteration = 0
        self.min_train_timesteps_per_iteration = 0
        self.environment(ENV_NAME, env_config={"game": "Pong"})
        self.env_runners(
            num_env_runners=ppo.num_env_runners,
            num_envs_per_env_runner=ppo.num_envs,
            rollout_fragment_length=ppo.rollout_length,
        )
        batch = ppo.num_envs * ppo.rollout_length
        self.training(
            lr=[[0, ppo.lr], [ppo.total_steps, 0.0]],  # annealed linearly to 0 over the paper's 10 M steps
            gamma=ppo.gamma,
            lambda_=ppo.gae_lambda,
            train_batch_size_per_learner=batch,
            minibatch_size=batch // ppo.num_minibatches,
            num_epochs=ppo.num_epochs,
            clip_param=ppo.clip,
            entropy_coeff=ppo.entropy,
            vf_loss_coeff=ppo.value,
            grad_clip=ppo.grad_clip,
            grad_clip_by="global_norm",
            use_kl_loss=False,
            kl_coeff=0.0,
        )
        self.debugging(log_level="ERROR")

    def insight(self, **settings) -> InsightPPOConfig:
        """Set INSIGHT settings: `condition` (one of `conditions.CONDITIONS`), the loss terms and sizes of
        `spec.InsightLossSpec`/`spec.ModelSpec`, `perception_weights` (pre-trained state dict file),
        `perception_data` (dataset folder), `total_steps` (the L½ ramp's length), `adam_eps`,
        `minibatching` (`spec.PPOSpec`), `size_weight`/`focal_gamma`/`object_weights` (perception loss), and
        `eval_every`, `eval_episodes`, `eval_max_episode_frames`, `eval_eql_greedy` (evaluation)."""
        unknown = sorted(set(settings) - set(INSIGHT_KEYS))
        if unknown:
            raise ValueError(
                f"InsightPPOConfig.insight: unknown setting(s) {unknown}; known: {sorted(INSIGHT_KEYS)}"
            )
        for key, value in settings.items():
            if value is not NotProvided:
                setattr(self, key, value)
        return self

    @property
    def guidance(self) -> bool:
        """Whether the condition trains the EQL actor by neural guidance."""
        return CONDITIONS[self.condition].guidance

    @override(PPOConfig)
    def validate(self) -> None:
        """PPO's checks, then the condition, the INSIGHT settings and the env's game."""
        super().validate()
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition: unknown {self.condition!r}; valid: {', '.join(CONDITIONS)}")
        if self.minibatching not in ("per_epoch", "rllib_cyclic"):
            raise ValueError(f"minibatching: unknown {self.minibatching!r}; valid: per_epoch, rllib_cyclic")
        if self.object_weights not in ("reference", "slot"):
            raise ValueError(f"object_weights: unknown {self.object_weights!r}; valid: reference, slot")
        from pydantic import ValidationError

        from rllib_nsrl.experiments.schema import explain

        for model in (InsightLossSpec, ModelSpec):
            try:
                model.model_validate({k: getattr(self, k) for k in model.model_fields})
            except ValidationError as err:
                raise ValueError(f"InsightPPOConfig: {explain(model, err)}") from None
        from rllib_nsrl.envs.atari import check_game

        check_game(dict(self.env_config).get("game", "Pong"))

    @override(PPOConfig)
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_nsrl.systems.insight.module import InsightModule

        return RLModuleSpec(module_class=InsightModule)

    @override(PPOConfig)
    def get_default_learner_class(self):
        from rllib_nsrl.systems.insight.learner import InsightPPOLearner

        return InsightPPOLearner

    @property
    @override(PPOConfig)
    def _model_config_auto_includes(self) -> dict[str, Any]:
        from rllib_nsrl.envs.atari import OBJECT_SLOTS
        from rllib_nsrl.systems.insight.module import insight_model_config

        game = dict(self.env_config).get("game", "Pong")
        model = {k: getattr(self, k) for k in ModelSpec.model_fields}
        loss = {"eql_acts_in_training": self.eql_acts_in_training}
        weights = self.perception_weights
        if weights:  # a Tune grid over seeds shares one path with the seed left as "{seed}"
            weights = str(weights).replace("{seed}", str(self.seed))
        settings = insight_model_config(
            {"model": model, "insight": loss},
            CONDITIONS[self.condition],
            len(OBJECT_SLOTS.get(game, ())),
            weights,
        )
        return super()._model_config_auto_includes | settings | {"game": game}
