"""Neural Logic Machine layers (Dong et al. 2019, ref code google/neural-logic-machines), pure torch.

Predicates are grouped by arity 0..B (B = breadth). A predicate group of arity r is one tensor
`[batch, n, …(r times)…, C_r]` of truth values in [0, 1]; a missing group is `None` (a tensor with zero
channels is treated the same). One `NLMLayer` does one step of lifted deduction: for every arity r it
concatenates on channels

* expand(arity r−1): a new free variable as a new last object axis (broadcast),
* arity r itself,
* reduce(arity r+1): ∃ (max) and ∀ (min) over the last object axis, with exclude-self masking
  (tuples that repeat an object are set to 0 for ∃ and 1 for ∀, so "∃Y ≠ X");

then, for r ≥ 2, all r! permutations of the object axes (channels × r!), and finally a linear map shared
over all tuples followed by a sigmoid → `C_out[r]` channels. The weights never see n, so a model built on
n objects runs unchanged on any other number of objects.

Memory: the arity-B group of one layer holds `batch · n^B · B! · C` floats before the linear map, i.e.
O(n^B); with B = 3, n = 40 and ~400 channels that is ~100 MB per instance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

Predicates = list[torch.Tensor | None]


def expand(x: torch.Tensor, n: int) -> torch.Tensor:
    """Add a free variable: [B, n^r, C] → [B, n^r, n, C], `out[..., j, :] = x[..., :]` for every object j."""
    return x.unsqueeze(-2).expand(*x.shape[:-1], n, x.shape[-1])


def distinct_mask(n: int, arity: int, device: torch.device | None = None) -> torch.Tensor:
    """Bool [n]*arity, True where all `arity` object indices are pairwise different."""
    idx = [
        torch.arange(n, device=device).view([n if k == i else 1 for k in range(arity)]) for i in range(arity)
    ]
    mask = torch.ones((n,) * arity, dtype=torch.bool, device=device)
    for i, j in itertools.combinations(range(arity), 2):
        mask = mask & (idx[i] != idx[j])
    return mask


def reduce(x: torch.Tensor, exclude_self: bool = True) -> torch.Tensor:
    """Quantify the last object variable: [B, n^r, C] (r ≥ 1) → [B, n^(r−1), 2C] = [∃ channels, ∀ channels].

    With `exclude_self` every tuple that repeats an object is masked (0 for ∃ via max, 1 for ∀ via min),
    so e.g. for r = 2 `∃Y: Y ≠ X ∧ p(X, Y)`. Unary → nullary needs no mask (one variable cannot repeat).
    """
    arity = x.dim() - 2
    exists_in, forall_in = x, x
    if exclude_self and arity >= 2:
        repeated = ~distinct_mask(x.shape[1], arity, x.device).unsqueeze(-1)
        exists_in = x.masked_fill(repeated, 0.0)
        forall_in = x.masked_fill(repeated, 1.0)
    return torch.cat([exists_in.amax(dim=-2), forall_in.amin(dim=-2)], dim=-1)


def permute(x: torch.Tensor) -> torch.Tensor:
    """All r! orderings of the object axes, concatenated: [B, n^r, C] → [B, n^r, r!·C] (identity for r ≤ 1).

    The identity permutation comes first; the order is `itertools.permutations(range(r))`.
    """
    arity = x.dim() - 2
    if arity <= 1:
        return x
    last = x.dim() - 1
    perms = itertools.permutations(range(arity))
    return torch.cat([x.permute(0, *(1 + p for p in perm), last) for perm in perms], dim=-1)


def _channels(x: torch.Tensor | None) -> int:
    return 0 if x is None else x.shape[-1]


def _pad(inputs: Sequence[torch.Tensor | None], length: int) -> Predicates:
    if len(inputs) > length:
        raise ValueError(f"got predicates up to arity {len(inputs) - 1}, model breadth is {length - 1}")
    return [None if x is None or x.shape[-1] == 0 else x for x in inputs] + [None] * (length - len(inputs))


def _merge(groups: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    present = [g for g in groups if g is not None]
    return torch.cat(present, dim=-1) if present else None


class NLMLayer(nn.Module):
    """One NLM deduction step: predicates `[B, n^r, in_channels[r]]` → `[B, n^r, out_channels[r]]`, r = 0..B.

    `out_channels` may be one int for every arity. With `residual` the inputs are concatenated in front of
    the outputs (`out_channels[r] += in_channels[r]`). An arity with no input channels, or asked for zero
    output channels, yields `None`.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int] | int,
        exclude_self: bool = True,
        residual: bool = False,
    ):
        super().__init__()
        self.breadth = len(in_channels) - 1
        if isinstance(out_channels, int):
            out_channels = [out_channels] * (self.breadth + 1)
        if len(out_channels) != len(in_channels):
            raise ValueError(
                f"in_channels {list(in_channels)} and out_channels {list(out_channels)} differ in length"
            )
        self.in_channels = list(in_channels)
        self.exclude_self = exclude_self
        self.residual = residual
        self.logic = nn.ModuleList()
        produced = []
        for r in range(self.breadth + 1):
            dim = self.in_channels[r]
            dim += self.in_channels[r - 1] if r > 0 else 0
            dim += 2 * self.in_channels[r + 1] if r < self.breadth else 0
            dim *= math.factorial(r)
            make = dim > 0 and out_channels[r] > 0
            self.logic.append(nn.Linear(dim, out_channels[r]) if make else nn.Identity())
            produced.append(out_channels[r] if make else 0)
        self.produced_channels = produced
        self.out_channels = [
            p + (c if residual else 0) for p, c in zip(produced, self.in_channels, strict=True)
        ]

    def forward(self, inputs: Sequence[torch.Tensor | None], logits: bool = False) -> Predicates:
        """inputs: up to B+1 groups `[B, n^r, C_r]` (missing tail arities may be left out).

        Returns B+1 groups `[B, n^r, out_channels[r]]` (or None); `logits=True` skips the sigmoid.
        """
        x = _pad(inputs, self.breadth + 1)
        n = next((t.shape[1] for t in x[1:] if t is not None), None)
        outputs: Predicates = []
        for r in range(self.breadth + 1):
            parts = []
            if r > 0 and x[r - 1] is not None:
                if n is None:
                    raise ValueError("cannot expand nullary predicates: no predicate of arity ≥ 1 gives n")
                parts.append(expand(x[r - 1], n))
            parts.append(x[r])
            if r < self.breadth and x[r + 1] is not None:
                parts.append(reduce(x[r + 1], self.exclude_self))
            f = _merge(parts)
            out = None
            if f is not None and self.produced_channels[r] > 0:
                out = self.logic[r](permute(f))
                out = out if logits else torch.sigmoid(out)
            if self.residual:
                out = _merge([x[r], out])
            outputs.append(out)
        return outputs


class KnowledgeBase(nn.Module):
    """Multi-depth NLM stack whose layer outputs are all kept (the shared knowledge base B_S of L2ILP).

    `layer_channels`, e.g. `[[8, 8, 8, 8]] * depth`, sets the breadth (len − 1) and each layer's outputs.
    `forward` returns, per arity r, `[B, n^r, out_channels[r]]` = concat(inputs if `include_inputs`,
    layer 1 outputs, …, layer D outputs) on channels; `forward_layers` gives each layer's groups apart.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        layer_channels: Sequence[Sequence[int]],
        exclude_self: bool = True,
        residual: bool = False,
        include_inputs: bool = True,
    ):
        super().__init__()
        if not layer_channels:
            raise ValueError("a knowledge base needs at least one layer")
        self.breadth = len(layer_channels[0]) - 1
        if len(in_channels) > self.breadth + 1:
            raise ValueError(f"inputs up to arity {len(in_channels) - 1} exceed breadth {self.breadth}")
        self.in_channels = list(in_channels) + [0] * (self.breadth + 1 - len(in_channels))
        self.include_inputs = include_inputs
        self.layers = nn.ModuleList()
        dims = self.in_channels
        totals = list(self.in_channels) if include_inputs else [0] * (self.breadth + 1)
        for channels in layer_channels:
            layer = NLMLayer(dims, list(channels), exclude_self=exclude_self, residual=residual)
            self.layers.append(layer)
            dims = layer.out_channels
            totals = [t + d for t, d in zip(totals, dims, strict=True)]
        self.out_channels = totals

    def forward_layers(self, inputs: Sequence[torch.Tensor | None]) -> list[Predicates]:
        """Each layer's output groups, first layer first."""
        x = _pad(inputs, self.breadth + 1)
        outs = []
        for layer in self.layers:
            x = layer(x)
            outs.append(x)
        return outs

    def forward(self, inputs: Sequence[torch.Tensor | None]) -> Predicates:
        """Predicate groups per arity r, `[B, n^r, out_channels[r]]`.

        The inputs (if `include_inputs`), then every layer's outputs, concatenated on channels.
        """
        layers = self.forward_layers(inputs)
        if self.include_inputs:
            layers = [_pad(inputs, self.breadth + 1)] + layers
        return [_merge([groups[r] for groups in layers]) for r in range(self.breadth + 1)]


NLMStack = KnowledgeBase


class TaskHead(nn.Module):
    """Task-specific module: one NLM layer over all KB predicates, then a linear read-out of one predicate.

    kb outputs `[B, n^r, in_channels[r]]` → target logits (or probabilities) `[B, n^arity]`.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        arity: int,
        hidden_channels: Sequence[int] | int = 8,
        exclude_self: bool = True,
    ):
        super().__init__()
        if not 0 <= arity < len(in_channels):
            raise ValueError(f"target arity {arity} outside 0..{len(in_channels) - 1}")
        self.arity = arity
        self.layer = NLMLayer(in_channels, hidden_channels, exclude_self=exclude_self)
        width = self.layer.out_channels[arity]
        if width == 0:
            raise ValueError(f"head layer makes no arity-{arity} predicates from inputs {list(in_channels)}")
        self.readout = nn.Linear(width, 1)

    def forward(self, kb_outputs: Sequence[torch.Tensor | None], probs: bool = False) -> torch.Tensor:
        """Target logits `[B, n^arity]` (sigmoid if `probs`) of KB outputs `[B, n^r, in_channels[r]]`."""
        logits = self.readout(self.layer(kb_outputs)[self.arity]).squeeze(-1)
        return torch.sigmoid(logits) if probs else logits
