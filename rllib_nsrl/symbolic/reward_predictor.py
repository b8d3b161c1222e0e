"""RewardPredictor: the immediate reward of entering a cell, from that cell's label truths (SymDQN §3.2).

With the agent's cell (self-recognition) and the known dynamics (`grid_dynamics.next_cells`), the
truths of the cell each action enters give a predicted reward per action, used by the ActionReasoner
(A4) and the ActionFilter. A move into a wall "enters" the agent's own cell, whose reward is 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rllib_nsrl.symbolic.shape_recognizer import NUM_LABELS


class RewardPredictor(nn.Module):
    """MLP label truths [..., 5] → predicted reward [...] (reference code: 5 → 16 → ReLU → 1)."""

    def __init__(self, num_labels: int = NUM_LABELS, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_labels, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, truths: torch.Tensor) -> torch.Tensor:
        """Predicted reward [...] of label truths [..., num_labels] in [0, 1]."""
        return self.net(truths).squeeze(-1)

    def predict_action_rewards(self, shape_probs: torch.Tensor, next_cells: torch.Tensor) -> torch.Tensor:
        """Reward of each action: shape_probs [B, 25, L], next_cells LongTensor [B, A] → [B, A]."""
        index = next_cells.unsqueeze(-1).expand(*next_cells.shape, shape_probs.shape[-1])
        return self(shape_probs.gather(1, index))


def reward_prediction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the predicted reward of the taken action [B] and the one-step reward received [B].

    The target must be the one-step reward (with n_step > 1 RLlib's batch reward is an n-step return).
    """
    return F.mse_loss(pred, target.to(pred.dtype))
