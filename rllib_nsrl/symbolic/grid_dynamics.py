"""Known dynamics and self-recognition of the ShapesGrid agent (SymDQN §3.2, "RewardPredictor").

Cells are indexed 5*row + col; actions 0 up (row − 1), 1 right (col + 1), 2 down (row + 1),
3 left (col − 1); a move into a wall leaves the agent where it is.
"""

from __future__ import annotations

import torch
from torch import nn

from rllib_nsrl.symbolic.patches import GRID


def next_cells(agent_cell: torch.Tensor, grid: int = GRID) -> torch.Tensor:
    """Cell entered by each action: agent_cell LongTensor [B] → LongTensor [B, 4] (up, right, down, left)."""
    row, col = agent_cell // grid, agent_cell % grid
    last = grid - 1
    rows = torch.stack([(row - 1).clamp(min=0), row, (row + 1).clamp(max=last), row], dim=-1)
    cols = torch.stack([col, (col + 1).clamp(max=last), col, (col - 1).clamp(min=0)], dim=-1)
    return rows * grid + cols


def agent_cell_from_probs(shape_probs: torch.Tensor, agent_label: int | torch.Tensor) -> torch.Tensor:
    """Where the agent is: argmax over cells of the agent label's truth.

    shape_probs: [B, 25, L]; agent_label: int or 0-d LongTensor (no host sync needed) → LongTensor [B].
    """
    if isinstance(agent_label, torch.Tensor):
        index = agent_label.reshape(1, 1, 1).expand(*shape_probs.shape[:2], 1)
        agent_truth = shape_probs.gather(-1, index).squeeze(-1)
    else:
        agent_truth = shape_probs[..., agent_label]
    return agent_truth.argmax(dim=-1)


class AgentLabelTracker(nn.Module):
    """Self-recognition: the agent is the label that appears exactly once in (almost) every state.

    Keeps, per label, the (optionally decayed) number of observed states in which the count of cells
    with truth > `threshold` was exactly one, and the number of states seen; score = their ratio.
    The paper counts per episode; counting per state on the training batches is the same criterion
    ("constant, and equal to one") without needing episode boundaries.

    Buffers follow the module's device and are part of its `state_dict` (checkpointed with it).
    """

    def __init__(self, num_labels: int = 5, threshold: float = 0.5, decay: float = 1.0):
        super().__init__()
        self.threshold = threshold
        self.decay = decay  # 1.0: cumulative since start; < 1: exponential forgetting per update
        self.register_buffer("hits", torch.zeros(num_labels, dtype=torch.float64))
        self.register_buffer("states", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, shape_probs: torch.Tensor) -> None:
        """Add a batch of per-cell truths [B, 25, L]."""
        counts = (shape_probs > self.threshold).sum(dim=1)  # [B, L]
        hits = (counts == 1).sum(dim=0).to(self.hits)
        self.hits.mul_(self.decay).add_(hits)
        self.states.mul_(self.decay).add_(shape_probs.shape[0])

    def scores(self) -> torch.Tensor:
        """Fraction of states in which each label appeared exactly once: [L] in [0, 1]."""
        return self.hits / self.states.clamp(min=1.0)

    def agent_label_tensor(self) -> torch.Tensor:
        """Best label as a 0-d LongTensor on the buffers' device (no host sync)."""
        return self.scores().argmax()

    def agent_label(self) -> int:
        """Index of the label with the highest score (0 before any update)."""
        return int(self.agent_label_tensor())
