"""ShapeRecognizer: a small CNN from one 10×10 cell patch to 5 label truths (SymDQN §3.2).

The five sigmoid outputs are the truths of IS(patch, l) for the labels l ∈ {empty, agent, circle,
cross, square}; *which slot means which label is never supervised* — it emerges from axioms A1–A3
(`shape_axioms.py`), and the agent slot is found by `grid_dynamics.AgentLabelTracker`.
"""

from __future__ import annotations

import torch
from torch import nn

from rllib_nsrl.symbolic.patches import CELL, CHANNELS, distinct_rows, grid_patches

NUM_LABELS = 5


class ShapeRecognizer(nn.Module):
    """Patch CNN: [N, 3, 10, 10] → [N, 5] label truths in (0, 1).

    Two 3×3 convolutions (ELU) and a linear layer, as in the reference code (conv 32, 64, stride 1).
    The default is narrower and the second convolution has stride 2 (10×10 → 5×5): the patches hold
    at most five distinct glyphs, and this is evaluated on 25 patches of every observation.
    `channels=(32, 64), downsample=False` reproduces the reference network.
    """

    def __init__(
        self,
        num_labels: int = NUM_LABELS,
        channels: tuple[int, int] = (16, 32),
        downsample: bool = True,
        in_channels: int = CHANNELS,
        cell: int = CELL,
    ):
        super().__init__()
        c1, c2 = channels
        stride = 2 if downsample else 1
        side = (cell - 1) // stride + 1
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1),
            nn.ELU(),
            nn.Conv2d(c1, c2, 3, stride=stride, padding=1),
            nn.ELU(),
            nn.Flatten(),
        )
        self.head = nn.Linear(c2 * side * side, num_labels)

    def logits(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [N, 3, 10, 10] → pre-sigmoid scores [N, num_labels]."""
        return self.head(self.features(patches))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """patches [N, 3, 10, 10] in [0, 1] → label truths [N, num_labels] in (0, 1)."""
        return torch.sigmoid(self.logits(patches))

    def cell_truths(self, cell_patches: torch.Tensor, with_distinct: bool = False):
        """Per-cell truths of whole grids: [B, 25, 3, 10, 10] → [B, 25, num_labels].

        The CNN runs once per *distinct* patch (a ShapesGrid batch shows at most five glyph images
        in its B·25 cells) and the truths are gathered back: same values, and the same gradients
        (the gather's backward sums them per distinct patch). With `with_distinct`, also returns those
        distinct patches [M, 3, 10, 10] in order of first appearance (the learner's patch set takes them).
        """
        b, k = cell_patches.shape[:2]
        flat = cell_patches.reshape(b * k, *cell_patches.shape[2:])
        first, inverse = distinct_rows(flat.detach().reshape(b * k, -1))
        truths = self(flat[first])[inverse].reshape(b, k, -1)
        if with_distinct:
            return truths, flat[first.sort().values].detach()
        return truths

    def observation_truths(self, obs: torch.Tensor, with_distinct: bool = False):
        """Channels-last observations [B, 50, 50, 3] → per-cell truths [B, 25, num_labels]
        (and the distinct patches, see `cell_truths`)."""
        return self.cell_truths(grid_patches(obs), with_distinct=with_distinct)
