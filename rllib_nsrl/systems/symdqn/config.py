"""`SymDQNConfig`: RLlib's `DQNConfig` with SymDQN's settings as typed attributes.

`SymDQNConfig()` is the paper's setup (docs/systems/symdqn.md): Dueling double DQN on ShapesGrid with
the LTN modules of the chosen `condition`, one training iteration per paper epoch, the ActionFilter as
the evaluation env runners' env-to-module connector. The symbolic settings are set with `training(...)`,
checked in `validate()` against the spec model, and reach `SymDQNModule`/`SymDQNLearner` through RLlib's
model-config mechanism (`_model_config_auto_includes`). Defaults are written once, in `spec.py`.

    config = SymDQNConfig().training(condition="SymDQN(AF)").debugging(seed=0)
    algo = config.build_algo()
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ray.rllib.algorithms.dqn import DQNConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.annotations import override
from ray.rllib.utils.from_config import NotProvided

from rllib_nsrl.systems.symdqn.conditions import CONDITIONS
from rllib_nsrl.systems.symdqn.spec import DQNSpec, EpochSpec, SymbolicSpec

SYMBOLIC_KEYS = tuple(SymbolicSpec.model_fields)
# Settings the module and learner read (the env's `train_zero_reward` stays with the env config).
MODULE_KEYS = ("condition",) + tuple(k for k in SYMBOLIC_KEYS if k != "train_zero_reward")
CELL = 10  # pixels per grid cell of ShapesGrid observations


class SymDQNConfig(DQNConfig):
    """DQN config of the SymDQN ablation; see the module docstring."""

    def __init__(self, algo_class=None):
        from rllib_nsrl.envs import register_tune_envs
        from rllib_nsrl.systems.symdqn.algorithm import EpochDQN
        from rllib_nsrl.systems.symdqn.callbacks import ShapesMetricsCallback
        from rllib_nsrl.systems.symdqn.env_runner import FreshEpisodesEnvRunner

        super().__init__(algo_class=algo_class or EpochDQN)
        register_tune_envs()
        self.condition = "DuelDQN"
        for key, value in SymbolicSpec().model_dump().items():
            setattr(self, key, value)
        self.train_episodes_per_epoch = EpochSpec().train_episodes
        self.dqn_loop = DQNSpec().loop
        # One iteration = one epoch; no minimum time or timesteps per iteration.
        self.min_time_s_per_iteration = 0
        self.min_sample_timesteps_per_iteration = 0
        self.min_train_timesteps_per_iteration = 0

        dqn = DQNSpec()
        self.environment("ShapesGrid")
        self.env_runners(
            num_env_runners=0,
            num_envs_per_env_runner=1,
            rollout_fragment_length=dqn.rollout_fragment_length,
            env_runner_cls=FreshEpisodesEnvRunner,
        )
        self.training(
            lr=dqn.lr,
            gamma=dqn.gamma,
            train_batch_size_per_learner=dqn.train_batch_size,
            dueling=True,
            double_q=dqn.double_q,
            n_step=1,
            target_network_update_freq=dqn.target_update_freq,
            epsilon=[tuple(p) for p in dqn.epsilon],
            grad_clip=dqn.grad_clip,
            grad_clip_by="global_norm",
            training_intensity=dqn.updates_per_step * dqn.train_batch_size,
            num_steps_sampled_before_learning_starts=dqn.learning_starts,
            replay_buffer_config={"type": "EpisodeReplayBuffer", "capacity": dqn.replay_capacity},
        )
        self.callbacks(ShapesMetricsCallback)
        self.debugging(log_level="ERROR")

    @override(DQNConfig)
    def training(
        self,
        *,
        condition: str | None = NotProvided,
        filter_threshold: float | None = NotProvided,
        filter_gate_reward_loss: float | None = NotProvided,
        train_zero_reward: float | None = NotProvided,
        shapes_weight: float | None = NotProvided,
        reward_weight: float | None = NotProvided,
        reasoner_weight: float | None = NotProvided,
        reasoner_margin: float | None = NotProvided,
        ltn_p: float | None = NotProvided,
        patch_capacity: int | None = NotProvided,
        a2_inequality: str | None = NotProvided,
        dqn_loop: str | None = NotProvided,
        **kwargs,
    ) -> SymDQNConfig:
        """DQN's `training(...)` plus the SymDQN settings.

        condition: one of `conditions.CONDITIONS` ("DuelDQN" ... "SymDQN(AR,AF)").
        dqn_loop: "lean" (default) or "rllib" — see `spec.DQNSpec.loop` and `EpochDQN`.
        The others: see `spec.SymbolicSpec` (paper defaults, ranges, one-line help each).
        """
        super().training(**kwargs)
        given = dict(
            condition=condition,
            filter_threshold=filter_threshold,
            filter_gate_reward_loss=filter_gate_reward_loss,
            train_zero_reward=train_zero_reward,
            shapes_weight=shapes_weight,
            reward_weight=reward_weight,
            reasoner_weight=reasoner_weight,
            reasoner_margin=reasoner_margin,
            ltn_p=ltn_p,
            patch_capacity=patch_capacity,
            a2_inequality=a2_inequality,
            dqn_loop=dqn_loop,
        )
        for key, value in given.items():
            if value is not NotProvided:
                setattr(self, key, value)
        return self

    def epoch(self, *, train_episodes: int | None = NotProvided) -> SymDQNConfig:
        """Training episodes per iteration (paper epoch: 50); evaluation size is `evaluation(...)`'s."""
        if train_episodes is not NotProvided:
            self.train_episodes_per_epoch = int(train_episodes)
        return self

    @override(DQNConfig)
    def validate(self) -> None:
        """DQN's checks, then the condition name and the symbolic settings' types and ranges."""
        super().validate()
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition: unknown {self.condition!r}; valid: {', '.join(CONDITIONS)}")
        try:
            SymbolicSpec.model_validate({k: getattr(self, k) for k in SYMBOLIC_KEYS})
        except ValidationError as err:
            from rllib_nsrl.experiments.schema import explain

            raise ValueError(f"SymDQNConfig: {explain(SymbolicSpec, err)}") from None
        if int(self.train_episodes_per_epoch) < 1:
            raise ValueError("train_episodes_per_epoch: must be >= 1")
        if self.dqn_loop not in ("lean", "rllib"):
            raise ValueError(f"dqn_loop: unknown {self.dqn_loop!r}; valid: lean, rllib")
        if self.dqn_loop == "lean":
            replay = self.replay_buffer_config.get("type")
            needs = {
                "num_env_runners=0": self.num_env_runners == 0,
                "num_learners=0": self.num_learners == 0,
                "n_step=1": self.n_step == 1,
                "replay type EpisodeReplayBuffer": replay in ("EpisodeReplayBuffer", None),
            }
            missing = [name for name, ok in needs.items() if not ok]
            if missing:
                raise ValueError(f"dqn_loop: 'lean' needs {', '.join(missing)}; use dqn_loop='rllib'")

    @override(DQNConfig)
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_nsrl.systems.symdqn.module import SymDQNModule

        return RLModuleSpec(module_class=SymDQNModule)

    @override(DQNConfig)
    def get_default_learner_class(self):
        from rllib_nsrl.systems.symdqn.learner import SymDQNLearner

        return SymDQNLearner

    @property
    @override(DQNConfig)
    def _model_config_auto_includes(self) -> dict[str, Any]:
        settings = {k: getattr(self, k) for k in MODULE_KEYS}
        return super()._model_config_auto_includes | settings | {"cell": CELL}
