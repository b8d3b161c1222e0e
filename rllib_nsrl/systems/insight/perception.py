"""Perception of INSIGHT (Luo et al. 2024, the INSIGHT paper): stacked frames → objects per slot and frame.

A conv encoder reads the 4 stacked grey frames; linear heads give, for every object slot and frame,
``(existence logit, x, y, w, h)`` — the layout of the teacher's ``info["objects"]`` (exists, x, y, w, h)
of `rllib_nsrl.envs.atari`, so a prediction and its label index alike. It is pre-trained on the
teacher's labels and refined during policy learning; the EQL actor reads its coordinates through
`rllib_nsrl.symbolic.eql.eql_inputs`.

Encoder size: the reference flattens the last conv map into Linear(28224 → 2048), ≈73 M weights, which
runs at ≈14 env steps/s per core on our machines — far too slow for 10 M steps on 2 cores. We use the
Nature-DQN encoder (3 convs + Linear(3136 → 512), ≈1.7 M weights) with the reference's LayerNorm on
the feature; it is the network the published PPO Atari curves were trained with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Loss dict keys, one spelling each (logged by the learner under these names).
PERCEPTION_LOSS = "perception_loss"
COORD_L1 = "perception_coord_l1"
SIZE_L1 = "perception_size_l1"
EXIST_FOCAL = "perception_exist_focal"


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


class Perception(nn.Module):
    """uint8 frames [B, F, H, W] (0…255, channels-first, newest last) → objects [B, S, F, 5].

    Output per slot and frame: (existence logit, x, y, w, h); coordinates and sizes are unbounded
    regressions of targets in [0, 1] (clamp where a range is needed, as `eql_inputs` does).

    Args:
        num_slots: object slots S of the game (e.g. `OBJECT_SLOTS["Pong"]` → 3).
        num_frames: stacked frames F (4); the heads predict the objects of every input frame.
        screen_size: frame height = width (84).
        feature_dim: encoder output width (512, Nature DQN).
    """

    def __init__(self, num_slots: int, num_frames: int = 4, screen_size: int = 84, feature_dim: int = 512):
        super().__init__()
        side = _conv_out(_conv_out(_conv_out(screen_size, 8, 4), 4, 2), 3, 1)
        if side < 1:
            raise ValueError(f"Perception: screen_size {screen_size} is too small for the encoder (>= 36)")
        self.num_slots, self.num_frames = num_slots, num_frames
        self.encoder = nn.Sequential(
            nn.Conv2d(num_frames, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * side * side, feature_dim),
            nn.LayerNorm(feature_dim),
            nn.ReLU(),
        )
        self.heads = nn.Linear(feature_dim, num_slots * num_frames * 5)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [B, F, H, W] → float [B, feature_dim] (also the input of policy/value heads)."""
        return self.encoder(frames.float() / 255.0)

    def objects(self, features: torch.Tensor) -> torch.Tensor:
        """[B, feature_dim] → [B, S, F, 5] (existence logit, x, y, w, h)."""
        return self.heads(features).unflatten(1, (self.num_slots, self.num_frames, 5))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames [B, F, H, W] → objects [B, S, F, 5]."""
        return self.objects(self.features(frames))


def slot_weights(exists: torch.Tensor) -> torch.Tensor:
    """Per-slot loss weights from the label set's existence flags [N, S, F] (or [N, S]) → [S].

    weight = 0.1 + sigmoid(10·(q_s − mean q)), q the inverse existence frequency of each slot normalised
    to sum 1 (the INSIGHT paper, our reading of the reference's "normalised inverse object frequency"): rare
    objects (Pong's ball, which vanishes between points) weigh more, none less than 0.1.
    """
    freq = exists.float().flatten(2).mean(dim=(0, 2)) if exists.dim() > 2 else exists.float().mean(0)
    inverse = 1.0 / freq.clamp_min(1e-3)  # a slot never seen must not give inf
    q = inverse / inverse.sum()
    return 0.1 + torch.sigmoid(10.0 * (q - q.mean()))


class ObjectWeights:
    """Loss weights of each object in each frame, from the training split's existence flags [N, S, F].

    `scheme` "reference" (the reference code's): per frame, the present objects' inverse dataset counts
    normalised to sum 1 over that frame, w = 0.1 + sigmoid(10·(share − μ)), μ the mean inverse count (≈ 0);
    an absent object gets ≈ 0.6 (it counts in the existence term). Pong's three objects get ≈ 1.07,
    Freeway's eleven ≈ 0.81. "slot" (runs before 2026-12-08): one weight per slot, `slot_weights`
    (pre-training then leaves the existence term unweighted).
    Calling it on a batch's existence flags [B, S, F] gives the weights [B, S, F].
    """

    SCHEMES = ("reference", "slot")

    def __init__(self, exists: torch.Tensor, scheme: str = "reference"):
        if scheme not in self.SCHEMES:
            raise ValueError(f"ObjectWeights: scheme {scheme!r}; valid: {', '.join(self.SCHEMES)}")
        self.scheme = scheme
        exists = exists.float()
        if scheme == "slot":
            self.per_slot = slot_weights(exists)
            return
        counts = exists.flatten(2).sum(dim=(0, 2)) if exists.dim() > 2 else exists.sum(0)
        inverse = torch.where(counts > 0, 1.0 / counts.clamp_min(1.0), torch.zeros_like(counts))
        self.inverse = inverse / len(counts)
        seen = self.inverse[self.inverse > 0]
        self.mu = float(seen.mean()) if len(seen) else 0.0

    def __call__(self, exists: torch.Tensor) -> torch.Tensor:
        """Existence flags [B, S, F] → weights [B, S, F]."""
        exists = exists.float()
        if self.scheme == "slot":
            self.per_slot = self.per_slot.to(exists.device)  # a no-op after the first call
            return self.per_slot.view(1, -1, 1).expand_as(exists)
        self.inverse = self.inverse.to(exists.device)
        share = exists * self.inverse.view(1, -1, 1)
        share = share / (share.sum(1, keepdim=True) + 1e-20)
        return 0.1 + torch.sigmoid(10.0 * (share - self.mu))


def binary_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """−α_t (1 − p_t)^γ log p_t (Lin et al. 2017) per entry, its mean over all entries (`reduction` "mean")
    or the entries themselves ("none"); `alpha` None = no α_t."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = torch.exp(-ce)  # probability given to the true class, computed stably from the CE
    loss = (1.0 - p_t) ** gamma * ce
    if alpha is not None:
        loss = loss * (alpha * targets + (1.0 - alpha) * (1.0 - targets))
    return loss if reduction == "none" else loss.mean()


def perception_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    size_weight: float = 1.0,
    reduction: str = "mean",
    weighted_existence: bool = False,
) -> dict[str, torch.Tensor]:
    """Pre-training / refinement loss of perception (Luo et al., ICML 2024): dict of scalar terms.

    Args:
        pred: [B, S, F, 5] (existence logit, x, y, w, h), from `Perception`.
        target: [B, S, F, 5] (exists ∈ {0, 1}, x, y, w, h in [0, 1]), the teacher's ``info["objects"]``.
        weights: per-slot [S] (`slot_weights`) or per-entry [B, S, F] (`ObjectWeights`) weights of the
            coordinate and size terms (and, with "sum", of the existence term); None = 1.
        gamma, alpha: focal loss on existence (γ 2).
        size_weight: factor of the size term in the total (the reference adds L1 on size with 1).
        reduction: "mean": COORD_L1 and SIZE_L1 are the mean absolute error per coordinate of the objects
            that exist in the label, each weighted by its weight, and EXIST_FOCAL the mean over all
            slots and frames. "sum": the reference code's scale, each term summed over the slots,
            frames and numbers of a sample (the focal term weighted by the weights too), then
            averaged over the batch: 2·S·F times "mean" for a full frame set (≈ 24× for Pong, ≈ 88× for
            Freeway), so that a weight such as 2 balances it against the PPO loss as in the reference.
        weighted_existence: with "mean", weight the existence term by `weights` too (the reference's
            pre-training does; "sum" always does).

    Absent objects' coordinates and sizes do not matter (they are zeroed before the EQL reads them).
    Returns ``{COORD_L1, SIZE_L1, EXIST_FOCAL, PERCEPTION_LOSS}``, PERCEPTION_LOSS = COORD_L1 + EXIST_FOCAL
    + size_weight · SIZE_L1.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"perception_loss: reduction {reduction!r}; valid: mean, sum")
    exists = target[..., 0]
    if weights is None:
        slot_w = torch.ones_like(exists)
    else:
        slot_w = weights.view(1, -1, 1).expand_as(exists) if weights.dim() == 1 else weights
    w = exists * slot_w
    # "mean": per existing number (x, y or w, h); "sum": per sample
    count = exists.sum().clamp_min(1.0) * 2 if reduction == "mean" else float(exists.shape[0])

    def masked_l1(cols: slice) -> torch.Tensor:
        return ((pred[..., cols] - target[..., cols]).abs().sum(-1) * w).sum() / count

    coord = masked_l1(slice(1, 3))
    size = masked_l1(slice(3, 5))
    if reduction == "mean" and not weighted_existence:
        focal = binary_focal_loss(pred[..., 0], exists, gamma=gamma, alpha=alpha)
    elif reduction == "mean":
        per_entry = binary_focal_loss(pred[..., 0], exists, gamma=gamma, alpha=alpha, reduction="none")
        focal = (per_entry * slot_w).mean()
    else:
        per_entry = binary_focal_loss(pred[..., 0], exists, gamma=gamma, alpha=alpha, reduction="none")
        focal = (per_entry * slot_w).sum() / count
    return {
        COORD_L1: coord,
        SIZE_L1: size,
        EXIST_FOCAL: focal,
        PERCEPTION_LOSS: coord + focal + size_weight * size,
    }
