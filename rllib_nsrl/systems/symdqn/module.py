"""SymDQN RLModule: the dueling Q-network plus the LTN modules of the SymDQN paper (docs/systems/symdqn.md).

With the condition "DuelDQN" it is exactly `DuelingQModule`. Otherwise it also
holds the ShapeRecognizer (per-cell label truths), the AgentLabelTracker (self-recognition), the
RewardPredictor, and — as in the reference code — feeds the dueling head the 25×5 shape truths and
the 25 per-cell predicted rewards. Those features are detached: the symbolic modules learn only
from their own losses (axioms A1–A3, reward MSE), so the DQN loss cannot bend label semantics.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_NEXT_PREDS, QF_PREDS, QF_TARGET_NEXT_PREDS
from ray.rllib.algorithms.dqn.torch.default_dqn_torch_rl_module import DefaultDQNTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.utils.annotations import override

from rllib_nsrl.constants import DISTINCT_PATCHES, HEAD_FEATURES, SHAPE_PROBS
from rllib_nsrl.rl_modules.dueling_q_module import DuelingQModule, split_observation
from rllib_nsrl.symbolic.action_filter import action_filter_mask
from rllib_nsrl.symbolic.grid_dynamics import AgentLabelTracker, agent_cell_from_probs, next_cells
from rllib_nsrl.symbolic.reward_predictor import RewardPredictor
from rllib_nsrl.symbolic.shape_recognizer import ShapeRecognizer
from rllib_nsrl.systems.symdqn.conditions import CONDITIONS
from rllib_nsrl.systems.symdqn.spec import SymbolicSpec

NUM_LABELS = 5
NUM_CELLS = 25


def module_settings(model_config: dict) -> dict:
    """The SymDQN settings of `model_config`, each missing one at its default (`spec.SymbolicSpec`)."""
    return {"condition": "DuelDQN", **SymbolicSpec().model_dump(), **(model_config or {})}


class SymDQNModule(DuelingQModule):
    """Dueling Q-network + ShapeRecognizer, RewardPredictor and self-recognition (see module docstring).

    `model_config`: the `SymDQNConfig` settings (`condition`, `filter_threshold`, ...), set by the config.
    """

    @override(RLModule)
    def setup(self):
        self.settings = module_settings(self.model_config)
        condition = self.settings["condition"]
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}; valid: {', '.join(CONDITIONS)}")
        self.flags = CONDITIONS[condition]
        self.symbolic = self.flags["symbolic"]
        if self.symbolic:
            self.shape_recognizer = ShapeRecognizer()
            self.reward_predictor = RewardPredictor()
            self.agent_tracker = AgentLabelTracker(NUM_LABELS)
            # running MSE of the reward predictor (gate of the reference code's filter)
            self.register_buffer("reward_loss_ema", torch.tensor(float("inf")))
        super().setup()

    @override(DuelingQModule)
    def extra_feature_dim(self) -> int:
        return NUM_CELLS * NUM_LABELS + NUM_CELLS if self.symbolic else 0

    def shape_truths(self, obs: torch.Tensor) -> torch.Tensor:
        """[B, 50, 50, 3] → per-cell label truths [B, 25, 5]."""
        return self.shape_recognizer.observation_truths(obs)

    def action_rewards(self, probs: torch.Tensor) -> torch.Tensor:
        """Predicted immediate reward of each action [B, 4] from per-cell truths [B, 25, 5]."""
        agent = agent_cell_from_probs(probs, self.agent_tracker.agent_label_tensor())
        return self.reward_predictor.predict_action_rewards(probs, next_cells(agent))

    @override(DuelingQModule)
    def extra_features(self, obs: torch.Tensor) -> torch.Tensor | None:
        if not self.symbolic:
            return None
        return self._features_and_patches(obs)[0]

    def _features_and_patches(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head features [B, 150] (shape truths, per-cell predicted rewards) and the distinct patches."""
        with torch.no_grad():
            probs, distinct = self.shape_recognizer.observation_truths(obs, with_distinct=True)
            cell_rewards = self.reward_predictor(probs)  # [B, 25]
        return torch.cat([probs.flatten(1), cell_rewards], dim=-1), distinct

    @override(DefaultDQNTorchRLModule)
    def _forward_train(self, batch: dict) -> dict:
        """The double-Q training pass of `DuelingQModule`, with the symbolic features of obs and next
        obs computed once and shared by the online (next obs: without graph) and the target heads; also
        returns the obs' cell truths (`SHAPE_PROBS` [B, 25, 5]) and the distinct patches of obs and next
        obs (`DISTINCT_PATCHES`), so that the learner need not recompute them."""
        if not (self.symbolic and self.uses_double_q):
            return super()._forward_train(batch)
        obs, _ = split_observation(batch[Columns.OBS])
        nxt, _ = split_observation(batch[Columns.NEXT_OBS])
        n = obs.shape[0]
        extra, distinct = self._features_and_patches(torch.cat([obs, nxt]))
        q = self.compute_q_values({Columns.OBS: batch[Columns.OBS], HEAD_FEATURES: extra[:n]})[QF_PREDS]
        with torch.no_grad():
            q_next = self.compute_q_values({Columns.OBS: batch[Columns.NEXT_OBS], HEAD_FEATURES: extra[n:]})
        target = self.forward_target({Columns.OBS: batch[Columns.NEXT_OBS], HEAD_FEATURES: extra[n:]})
        return {
            QF_PREDS: q,
            QF_NEXT_PREDS: q_next[QF_PREDS],
            QF_TARGET_NEXT_PREDS: target[QF_PREDS],
            SHAPE_PROBS: extra[:n, : NUM_CELLS * NUM_LABELS].reshape(n, NUM_CELLS, NUM_LABELS),
            DISTINCT_PATCHES: distinct,
        }

    def action_filter_mask(self, obs: torch.Tensor) -> torch.Tensor | None:
        """ActionFilter (evaluation): bool [B, 4] of kept actions, or None when the filter is off."""
        if not self.flags["action_filter"]:
            return None
        gate = self.settings["filter_gate_reward_loss"]
        if gate is not None and not bool(self.reward_loss_ema < gate):
            return None  # reference code: filter only once the reward predictor is accurate
        pred = self.action_rewards(self.shape_truths(obs))
        return action_filter_mask(pred, threshold=float(self.settings["filter_threshold"]))
