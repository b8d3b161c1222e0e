"""SymDQN Learner: RLlib's DQN loss + the LTN module losses, each logged separately.

loss = DQN loss
     + shapes_weight   · (1 − SatAgg(A1, A2, A3))  over the unique patches seen so far
     + reward_weight   · MSE(predicted reward of the entered cell, reward received)
     + reasoner_weight · (1 − Sat(A4))             only in the (AR) conditions; trains the Q-net
With the DuelDQN condition, or all weights zero, it is exactly the stock DQN loss.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_PREDS
from ray.rllib.algorithms.dqn.torch.dqn_torch_learner import DQNTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.utils.annotations import override

from rllib_nsrl.constants import (
    DISTINCT_PATCHES,
    DQN_LOSS,
    RECOGNIZER_RESTARTS,
    REWARD_PRED_MSE,
    SAT_A4,
    SHAPE_PROBS,
)
from rllib_nsrl.ray_private import step_without_checks
from rllib_nsrl.rl_modules.dueling_q_module import split_observation
from rllib_nsrl.symbolic.action_reasoner import action_reasoner_sat
from rllib_nsrl.symbolic.grid_dynamics import agent_cell_from_probs, next_cells
from rllib_nsrl.symbolic.patches import UniquePatchSet, grid_patches
from rllib_nsrl.symbolic.reward_predictor import reward_prediction_loss
from rllib_nsrl.symbolic.shape_axioms import shape_axioms, shape_axioms_loss

EMA = 0.05
RESTART_CHECK_EVERY = 500  # updates between checks for a collapsed labelling (see `_maybe_restart`)


class SymDQNLearner(DQNTorchLearner):
    """RLlib's DQN loss + the LTN module losses: A1–A3, reward prediction, A4 in the (AR) conditions.

    See the module docstring and docs/systems/symdqn.md#loss.
    """

    @override(DQNTorchLearner)
    def build(self) -> None:
        super().build()
        # Per module: the set of unique cell patches seen so far (training data of A1–A3).
        self._patch_sets: dict[str, UniquePatchSet] = {}
        self._updates: dict[str, int] = {}
        self._restarts: dict[str, int] = {}

    def _maybe_restart(self, module_id, module, unique_patches: torch.Tensor) -> bool:
        """Random restart of the ShapeRecognizer when A1–A3 sit in their known local optimum.

        With p = 8 the ∃ of A1 passes almost no gradient to a label whose truth is near 0, so descent
        often stalls with two patch types sharing one label and another label unused (seen in 7 of 8
        seeds on the 5 ShapesGrid glyphs). When the unique patches are no more than the labels but their
        argmax labels are not distinct, the recognizer, its optimizer state and the self-recognition
        counts are reset; restarts are counted in the `ltn_recognizer_restarts` metric.
        """
        n = self._updates[module_id] = self._updates.get(module_id, 0) + 1
        num_labels = module.shape_recognizer.head.out_features
        if n % RESTART_CHECK_EVERY or not 0 < unique_patches.shape[0] <= num_labels:
            return False
        with torch.no_grad():
            labels = module.shape_recognizer(unique_patches).argmax(dim=1)
        if labels.unique().numel() == labels.numel():
            return False
        for layer in module.shape_recognizer.modules():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        optimizer = self.get_optimizer(module_id)
        for param in module.shape_recognizer.parameters():
            optimizer.state.pop(param, None)
        module.agent_tracker.hits.zero_()
        module.agent_tracker.states.zero_()
        self._restarts[module_id] = self._restarts.get(module_id, 0) + 1
        return True

    @override(DQNTorchLearner)
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        """RLlib's default Adam, fused: one kernel for all parameters (CPU too since torch 2.4); on
        this 1 M-weight network ≈ 1 ms per step instead of ≈ 10 ms for the per-tensor loop."""
        params = self.get_parameters(self.module[module_id])
        optimizer = torch.optim.Adam(params, fused=True)
        self.register_optimizer(
            module_id=module_id, optimizer=optimizer, params=params, lr_or_lr_schedule=config.lr
        )

    @override(DQNTorchLearner)
    def apply_gradients(self, gradients_dict) -> None:
        """One fused norm as the finiteness test; RLlib's own path (two `isfinite` passes per
        parameter, ≈ 8 ms per update here) only when some gradient is not finite."""
        grads = [g for g in gradients_dict.values() if g is not None]
        finite = grads and bool(torch.isfinite(torch.nn.utils.get_total_norm(grads, foreach=True)))
        if not (finite and step_without_checks(self, gradients_dict)):
            super().apply_gradients(gradients_dict)

    @override(DQNTorchLearner)
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        dqn_loss = super().compute_loss_for_module(
            module_id=module_id, config=config, batch=batch, fwd_out=fwd_out
        )
        module = self.module[module_id].unwrapped()
        if not getattr(module, "symbolic", False):
            return dqn_loss
        mc = module.settings
        obs, _ = split_observation(batch[Columns.OBS])
        metrics = {DQN_LOSS: dqn_loss.detach()}
        total = dqn_loss

        # A1–A3 on the unique patches seen so far (the set grows with every batch: obs and next obs,
        # as deduplicated by the module's training pass when it ran the symbolic features).
        patches = self._patch_sets.setdefault(module_id, UniquePatchSet(int(mc["patch_capacity"])))
        distinct = fwd_out.get(DISTINCT_PATCHES)
        if distinct is not None:
            patches.add(distinct, distinct=True)
        else:  # a training pass without shared features (no double-Q): same set
            patches.add(grid_patches(torch.cat([obs, split_observation(batch[Columns.NEXT_OBS])[0]])))
        restarted = self._maybe_restart(module_id, module, patches.tensor())
        truths = module.shape_recognizer(patches.tensor())
        sats = shape_axioms(truths, p=float(mc["ltn_p"]), a2_inequality=mc["a2_inequality"])
        total = total + float(mc["shapes_weight"]) * shape_axioms_loss(sats)
        metrics.update(sats)

        # Self-recognition and RewardPredictor on the cell the taken action entered.
        # [B, 25, 5], used detached only: the module's training pass computed them (unless the
        # recognizer was just restarted)
        probs = fwd_out.get(SHAPE_PROBS) if not restarted else None
        if probs is None:
            probs = module.shape_recognizer.observation_truths(obs)
        module.agent_tracker.update(probs.detach())
        agent = agent_cell_from_probs(probs.detach(), module.agent_tracker.agent_label_tensor())
        entered = next_cells(agent)  # [B, 4]
        pred_all = module.reward_predictor.predict_action_rewards(probs.detach(), entered)  # [B, 4]
        actions = batch[Columns.ACTIONS].long()
        pred_taken = pred_all.gather(1, actions.unsqueeze(1)).squeeze(1)
        mse = reward_prediction_loss(pred_taken, batch[Columns.REWARDS])
        total = total + float(mc["reward_weight"]) * mse
        module.reward_loss_ema.copy_(
            torch.where(
                torch.isinf(module.reward_loss_ema),
                mse.detach(),
                (1 - EMA) * module.reward_loss_ema + EMA * mse.detach(),
            )
        )
        metrics[REWARD_PRED_MSE] = mse.detach()

        # ActionReasoner (A4): Q-values must order like the predicted rewards; trains the Q-net.
        if module.flags["action_reasoner"]:
            sat4 = action_reasoner_sat(
                pred_all.detach(),
                fwd_out[QF_PREDS],
                margin=float(mc["reasoner_margin"]),
                p=float(mc["ltn_p"]),
            )
            total = total + float(mc["reasoner_weight"]) * (1.0 - sat4)
            metrics[SAT_A4] = sat4.detach()

        metrics[RECOGNIZER_RESTARTS] = torch.tensor(float(self._restarts.get(module_id, 0)))
        for name, value in metrics.items():  # what `log_dict(metrics, key=module_id, window=1)` does
            self.metrics.log_value((module_id, name), value.detach(), reduce="mean", window=1)
        return total
