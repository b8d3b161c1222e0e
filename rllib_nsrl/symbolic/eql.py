"""Equation Learner (EQL) actor of INSIGHT (Luo et al. 2024, the INSIGHT paper; EQL: Martius & Lampert 2016,
Sahoo et al. 2018, Kim et al. 2020).

A symbolic layer is a linear map of its inputs followed by fixed primitives: unary ones (x², x³, the
constant 1, identity) each read one column, binary ones (x·y, x+y) read two consecutive columns. INSIGHT
uses one such layer with 8 units of each primitive (48 outputs), then a linear map to the action logits,
multiplied by an inverse temperature of 10. Sparsity comes from the smoothed L½ penalty; pruning the
small weights of the trained actor gives the policy's equations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

UNARY = ("square", "cube", "constant", "identity")
BINARY = ("product", "sum")
PRIMITIVES = UNARY + BINARY
INSIGHT_WIDTHS = {name: 8 for name in PRIMITIVES}
PRODUCT_CLIP = 1e4  # the reference clips x·y so that stacked layers cannot overflow


def eql_inputs(coords: torch.Tensor, exist_logits: torch.Tensor) -> torch.Tensor:
    """The EQL's variables from predicted objects: coords [B, S, F, 2] (x, y), exist_logits [B, S, F].

    Coordinates of objects with sigmoid(existence) ≤ 0.5 (logit ≤ 0) are zeroed, the rest clamped to
    [0, 1] (the INSIGHT paper, as at inference in the reference). Returns [B, S·F·2] in the order of
    `rllib_nsrl.envs.atari.variable_names`. The mask is hard; gradients reach the kept coordinates,
    so the EQL's loss also trains perception.
    """
    kept = (exist_logits > 0).unsqueeze(-1)
    return torch.where(kept, coords.clamp(0.0, 1.0), torch.zeros_like(coords)).flatten(1)


class SymbolicLayer(nn.Module):
    """Linear(in_dim → n_unary + 2·n_binary), then the primitives: [B, in_dim] → [B, out_dim].

    Output columns follow `PRIMITIVES` order, ``widths[name]`` units each (out_dim = Σ widths); the
    linear map's columns are the unary units' inputs first, then one consecutive pair per binary unit.
    """

    def __init__(self, in_dim: int, widths: Mapping[str, int]) -> None:
        super().__init__()
        unknown = sorted(set(widths) - set(PRIMITIVES))
        if unknown:
            raise ValueError(f"SymbolicLayer: unknown primitive(s) {unknown}; known: {list(PRIMITIVES)}")
        self.widths = {name: int(widths.get(name, 0)) for name in PRIMITIVES}
        if min(self.widths.values()) < 0 or sum(self.widths.values()) == 0:
            raise ValueError("SymbolicLayer: widths must be >= 0 and not all 0")
        self.n_unary = sum(self.widths[n] for n in UNARY)
        self.n_binary = sum(self.widths[n] for n in BINARY)
        self.out_dim = self.n_unary + self.n_binary
        self.linear = nn.Linear(in_dim, self.n_unary + 2 * self.n_binary)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_dim] → [B, out_dim], columns in `PRIMITIVES` order."""
        g = self.linear(x)
        square, cube, const, ident = g[:, : self.n_unary].split([self.widths[n] for n in UNARY], dim=1)
        pairs = g[:, self.n_unary :].unflatten(1, (self.n_binary, 2))
        prod, plus = pairs.split([self.widths[n] for n in BINARY], dim=1)
        return torch.cat(
            [
                square.square(),
                cube.pow(3),
                torch.ones_like(const),  # its linear column gets no task gradient; L½ drives it to 0
                ident,
                (prod[..., 0] * prod[..., 1]).clamp(-PRODUCT_CLIP, PRODUCT_CLIP),
                plus[..., 0] + plus[..., 1],
            ],
            dim=1,
        )


class EQLActor(nn.Module):
    """Symbolic layers then Linear(→ num_actions), × inverse temperature: [B, in_dim] → logits [B, A].

    Args:
        in_dim: number of variables (INSIGHT: all slots × 4 frames × (x, y), see `eql_inputs`).
        num_actions: number of action logits.
        widths: units per primitive of each symbolic layer (default `INSIGHT_WIDTHS`, 8 each).
        num_layers: symbolic layers (INSIGHT 1; the paper's ablation also runs 0 and 2).
        inverse_temperature: logit scale (INSIGHT 10).
    """

    def __init__(
        self,
        in_dim: int,
        num_actions: int,
        widths: Mapping[str, int] | None = None,
        num_layers: int = 1,
        inverse_temperature: float = 10.0,
    ) -> None:
        super().__init__()
        if num_layers < 0:
            raise ValueError("EQLActor: num_layers must be >= 0")
        widths = INSIGHT_WIDTHS if widths is None else widths
        layers = []
        dim = in_dim
        for _ in range(num_layers):
            layers.append(SymbolicLayer(dim, widths))
            dim = layers[-1].out_dim
        self.layers = nn.ModuleList(layers)
        self.out = nn.Linear(dim, num_actions)
        self.inverse_temperature = float(inverse_temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_dim] → logits [B, num_actions]."""
        for layer in self.layers:
            x = layer(x)
        return self.inverse_temperature * self.out(x)

    def regularized_parameters(self) -> list[torch.Tensor]:
        """Every weight matrix and bias of the actor: what the L½ penalty sparsifies (Luo et al. 2024)."""
        linears = [layer.linear for layer in self.layers] + [self.out]
        return [p for lin in linears for p in (lin.weight, lin.bias)]


def smoothed_sqrt_abs(w: torch.Tensor, a: float = 0.05) -> torch.Tensor:
    """Elementwise √|w|, smoothed below `a`: √(−w⁴/(8a³) + 3w²/(4a) + 3a/8) for |w| < a.

    The quartic equals |w| with slope ±1 at |w| = a, so the penalty and its gradient are continuous,
    and the gradient is 0 at w = 0 instead of √|w|'s infinite one (Wu et al. 2014; EQL, Kim et al. 2020).
    """
    quartic = -(w**4) / (8 * a**3) + 3 * w**2 / (4 * a) + 3 * a / 8
    return torch.sqrt(torch.where(w.abs() < a, quartic, w.abs()))


def l_half_penalty(params: Iterable[torch.Tensor], a: float = 0.05) -> torch.Tensor:
    """Smoothed L½ penalty Σ √|w| over all `params` (e.g. `EQLActor.regularized_parameters()`): scalar."""
    return sum(smoothed_sqrt_abs(p, a).sum() for p in params)


def pruned(actor: EQLActor, threshold: float) -> EQLActor:
    """A copy of `actor` with every weight and bias below `threshold` in magnitude set to 0."""
    import copy

    out = copy.deepcopy(actor)
    with torch.no_grad():
        for p in out.regularized_parameters():
            p.mul_((p.abs() >= threshold).to(p.dtype))
    return out


def used_inputs(actor: EQLActor, in_dim: int, threshold: float = 1e-2, samples: int = 64) -> torch.Tensor:
    """Bool mask [in_dim] of the inputs the pruned actor's logits depend on (non-zero gradient at random
    points of [0, 1]^in_dim): the variables that appear in its equations."""
    net = pruned(actor, threshold)
    x = torch.rand(samples, in_dim, generator=torch.Generator().manual_seed(0), requires_grad=True)
    (grad,) = torch.autograd.grad(net(x).abs().sum(), x)
    return grad.abs().sum(0) > 0
