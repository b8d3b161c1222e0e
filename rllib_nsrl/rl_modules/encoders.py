"""Q-network encoders (pure torch).

`GridEncoder` is our stand-in for the reference code's encoder (3 conv 3×3 layers of 32/64/128
channels at stride 1, flattened 128·50·50 → dense 256: ≈82 M weights). Its first convolution is
cell-aligned (10×10 kernel, stride 10), so one feature vector describes one grid cell exactly as
the ShapeRecognizer's patches do; two 3×3 convolutions (64, 128, ELU) then mix neighbouring cells,
and a dense layer gives 256 features. Same role — per-cell features, local spatial mixing,
a 256-d state embedding — at ≈0.9 M weights and a small fraction of the compute.
"""

from __future__ import annotations

import torch
from torch import nn


class GridEncoder(nn.Module):
    """[B, H, W, C] float image (channels last, H and W multiples of `cell`) → [B, out_dim]."""

    def __init__(self, in_shape: tuple[int, int, int], cell: int = 10, out_dim: int = 256):
        super().__init__()
        h, w, c = in_shape
        self.net = nn.Sequential(
            nn.Conv2d(c, 32, kernel_size=cell, stride=cell),
            nn.ELU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ELU(),
            nn.Conv2d(64, 128, kernel_size=3, padding=1),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(128 * (h // cell) * (w // cell), out_dim),
            nn.ELU(),
        )
        self.out_dim = out_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Features [B, out_dim] of images [B, H, W, C] (channels last)."""
        return self.net(obs.permute(0, 3, 1, 2))


class MLPEncoder(nn.Module):
    """[B, D] → [B, out_dim] (toy and vector observations)."""

    def __init__(self, in_dim: int, out_dim: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ELU(), nn.Linear(out_dim, out_dim), nn.ELU())
        self.out_dim = out_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Features [B, out_dim] of observations [B, ...], flattened to [B, D]."""
        return self.net(obs.flatten(1))


def dueling_heads(in_dim: int, n_actions: int, hidden: int = 128) -> nn.ModuleDict:
    """Value (hidden→1) and advantage (hidden→n_actions) streams of the dueling architecture."""
    return nn.ModuleDict(
        {
            "vf": nn.Sequential(nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, 1)),
            "af": nn.Sequential(nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, n_actions)),
        }
    )
