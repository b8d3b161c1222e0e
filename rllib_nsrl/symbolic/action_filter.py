"""ActionFilter: keep only actions whose predicted immediate reward is near the best (SymDQN §3.2).

Used at evaluation only (off during training, as in the paper), through the action-mask connector.
"""

from __future__ import annotations

import torch


def action_filter_mask(pred_rewards: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Allowed actions: pred_rewards [B, A] → bool [B, A].

    An action is kept iff its predicted reward ≥ (best in its state) − `threshold` (paper 0.5,
    reference code 0.3). Never empty: the argmax is always kept (also for a negative threshold), and a
    state with any NaN prediction keeps every action, since its predictions cannot be trusted.
    """
    nan_rows = torch.isnan(pred_rewards).any(dim=-1, keepdim=True)
    safe = pred_rewards.masked_fill(torch.isnan(pred_rewards), float("-inf"))
    best = safe.max(dim=-1, keepdim=True).values
    keep = safe >= best - threshold
    keep.scatter_(-1, safe.argmax(dim=-1, keepdim=True), True)
    return keep | nan_rows
