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

Two paths compute the same function (issue 18). The reference (`fast=False`) is the formula above: it
materialises all r! permuted copies of the concatenated input, `batch · n^B · B! · C` floats for the
arity-B group (~100 MB per instance at B = 3, n = 40, ~400 channels). The fast path (default) uses that
the linear map acts on channels and the permutations and the expand act on object axes, so they commute:
with the weight split into blocks W[k, part] (permutation k, input part),
`Linear(cat_k perm_k(cat(parts))) = b + Σ_k perm_k(Σ_part part · W[k, part])`, and
`expand(x) · W = expand(x · W)`. Each block maps C_in → C_out channels before anything is permuted or
broadcast, so only C_out-channel tensors are permuted. Same parameters and `state_dict` keys in both paths.
Below `FAST_MIN_SIZE` the fast path's extra (small) ops cost more than they save, and a module set to
`fast` computes with the reference formula there (`use_fast_path(..., min_size=0)` forces the fast one).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

Predicates = list[torch.Tensor | None]
# batch · n^B · B! (the reference's largest permuted group, per channel) from which the fast path pays on
# CPU: 0.6× at 4 · 10² · 2, ≈ 1× at 64 · 8² · 2, 1.5× at 4 · 10³ · 6 (`nsrl bench nlm`, docs/speed.md)
FAST_MIN_SIZE = 10_000


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


@functools.lru_cache(maxsize=32)
def _repeated(n: int, arity: int, device: torch.device) -> torch.Tensor:
    """Bool [n]*arity + [1], True where some object repeats; cached: every layer and batch shares it."""
    return ~distinct_mask(n, arity, device).unsqueeze(-1)


def reduce(x: torch.Tensor, exclude_self: bool = True) -> torch.Tensor:
    """Quantify the last object variable: [B, n^r, C] (r ≥ 1) → [B, n^(r−1), 2C] = [∃ channels, ∀ channels].

    With `exclude_self` every tuple that repeats an object is masked (0 for ∃ via max, 1 for ∀ via min),
    so e.g. for r = 2 `∃Y: Y ≠ X ∧ p(X, Y)`. Unary → nullary needs no mask (one variable cannot repeat).
    """
    arity = x.dim() - 2
    exists_in, forall_in = x, x
    if exclude_self and arity >= 2:
        repeated = _repeated(x.shape[1], arity, x.device)
        exists_in = x.masked_fill(repeated, 0.0)
        forall_in = x.masked_fill(repeated, 1.0)
    return torch.cat([exists_in.amax(dim=-2), forall_in.amin(dim=-2)], dim=-1)


@functools.lru_cache(maxsize=32)
def _repeated_float(n: int, arity: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """`_repeated` as 0/1 numbers `[n]*arity`: multiplying by it is ~10× faster than `masked_fill`."""
    return _repeated(n, arity, device).squeeze(-1).to(dtype)


class _MaskedQuantify(torch.autograd.Function):
    """Channels-first `reduce` with exclude-self: `[C, B, n^r]` → `[2C, B, n^(r−1)]`, for finite x.

    Same values and gradients as `reduce` (amax/amin split the gradient evenly between ties, and a masked
    entry equal to the extreme counts as a tie). The masks are applied by multiplying with 0/1 numbers
    (`x·keep` for ∃, `x·keep + repeated` for ∀), all in one work buffer that is not kept for backward.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, repeated: torch.Tensor) -> torch.Tensor:
        keep = 1.0 - repeated
        masked = x * keep
        exists = masked.amax(dim=-1)
        forall = masked.add_(repeated).amin(dim=-1)
        ctx.save_for_backward(x, repeated, exists, forall)
        return torch.cat([exists, forall])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, repeated, exists, forall = ctx.saved_tensors
        keep = 1.0 - repeated
        grad_exists, grad_forall = grad.unsqueeze(-1).chunk(2)
        masked = x * keep
        hit = torch.eq(masked, exists.unsqueeze(-1), out=torch.empty_like(x))  # 0/1 numbers: no bool casts
        grad_x = hit * (grad_exists / hit.sum(dim=-1, keepdim=True))
        torch.eq(masked.add_(repeated), forall.unsqueeze(-1), out=hit)
        grad_x.addcmul_(hit, grad_forall / hit.sum(dim=-1, keepdim=True))
        return grad_x.mul_(keep), None


def _reduce_cf(x: torch.Tensor, exclude_self: bool) -> torch.Tensor:
    """`reduce` on channels-first predicates: `[C, B, n^r]` → `[2C, B, n^(r−1)]` = [∃ chans, ∀ chans]."""
    arity = x.dim() - 2
    if exclude_self and arity >= 2:
        return _MaskedQuantify.apply(x, _repeated_float(x.shape[-1], arity, x.device, x.dtype))
    return torch.cat([x.amax(dim=-1), x.amin(dim=-1)])


def _to_cf(x: torch.Tensor | None) -> torch.Tensor | None:
    """Predicates `[B, n^r, C]` as the channels-first view `[C, B, n^r]` the fast path works on."""
    if x is None:
        return None
    cf = x.movedim(-1, 0)
    if hasattr(x, "_nlm_parts"):
        cf._nlm_parts = x._nlm_parts
    return cf


def _reduced(x: torch.Tensor, exclude_self: bool, memo: dict | None) -> torch.Tensor:
    """`_reduce_cf(x)` of channels-first x `[C, B, n^r]`, noted in `memo` (if given) by id(x).

    A fast `KnowledgeBase` output carries `_nlm_parts`: its channel blocks, each with the reductions the
    KB's own layers already made of it, so a head reading the KB reduces only the blocks none has reduced
    (at B = 3, n = 40 that is one in four arity-3 blocks, and the head's ∃/∀ were half the step).
    """
    parts = getattr(x, "_nlm_parts", None)
    if parts is None:
        out = _reduce_cf(x, exclude_self)
    else:
        exists, forall = [], []
        for part, known in parts:
            done = known.get(exclude_self)
            done = _reduce_cf(part, exclude_self) if done is None else done
            exists.append(done[: part.shape[0]])
            forall.append(done[part.shape[0] :])
        out = torch.cat(exists + forall)
    if memo is not None:
        memo[id(x), exclude_self] = (x, out)
    return out


class _PermutedMix(torch.autograd.Function):
    """`b + Σ_k perm_k(Σ_i W_ik · X_i)`, channels first: the permuted linear map of `NLMLayer`'s fast path.

    Inputs: `shape` `(C_out, B, n, …)`, the r! `orders` (`Tensor.permute` arguments), bias `[C_out]`, then
    per input part i its blocks `W_i [r!, C_out, C_i]` and `X_i [C_i, B·n^r]`. Both directions reuse one
    block-sized buffer and accumulate in place (`addmm_`), so no tensor bigger than the output is made.
    """

    @staticmethod
    def forward(ctx, shape, orders, bias, *parts):
        weights, xs = parts[::2], parts[1::2]
        out = xs[0].new_empty(shape)
        flat, buf = out.view(shape[0], -1), xs[0].new_empty(shape[0], xs[0].shape[1])
        for k, order in enumerate(orders):
            # orders[0] is the identity: that block goes straight into `out`, the others through `buf`
            if k == 0:
                y = torch.addmm(bias.unsqueeze(1), weights[0][0], xs[0], out=flat)
            else:
                y = torch.mm(weights[0][k], xs[0], out=buf)
            for w, x in zip(weights[1:], xs[1:], strict=True):
                y.addmm_(w[k], x)
            if k > 0:
                out.add_(buf.view(shape).permute(order))
        ctx.shape, ctx.orders = shape, orders
        ctx.save_for_backward(*parts)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        parts = ctx.saved_tensors
        weights, xs = parts[::2], parts[1::2]
        grad = grad.contiguous()
        grad_ws = [w.new_empty(w.shape) for w in weights]
        grad_xs = [torch.zeros_like(x) for x in xs]
        buf = torch.empty_like(grad)  # one block at a time: a buffer of all r! blocks costs page faults
        for k, order in enumerate(ctx.orders):
            inverse = sorted(range(len(order)), key=order.__getitem__)
            block = (grad if k == 0 else buf.copy_(grad.permute(inverse))).view(grad.shape[0], -1)
            for w, x, grad_w, grad_x in zip(weights, xs, grad_ws, grad_xs, strict=True):
                torch.mm(block, x.t(), out=grad_w[k])
                grad_x.addmm_(w[k].t(), block)
        grads = [g for pair in zip(grad_ws, grad_xs, strict=True) for g in pair]
        return None, None, grad.view(grad.shape[0], -1).sum(dim=1), *grads


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
    output channels, yields `None`. `fast=False` selects the reference formula (module docstring).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int] | int,
        exclude_self: bool = True,
        residual: bool = False,
        fast: bool = True,
    ):
        super().__init__()
        self.fast, self.fast_min_size = fast, FAST_MIN_SIZE
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

    def forward(
        self,
        inputs: Sequence[torch.Tensor | None],
        logits: bool = False,
        arities: Sequence[int] | None = None,
    ) -> Predicates:
        """inputs: up to B+1 groups `[B, n^r, C_r]` (missing tail arities may be left out).

        Returns B+1 groups `[B, n^r, out_channels[r]]` (or None); `logits=True` skips the sigmoid.
        `arities`: the output arities the caller reads; the fast path returns None (or the residual copy)
        for the others instead of computing them, the reference computes all.
        """
        x = _pad(inputs, self.breadth + 1)
        n = next((t.shape[1] for t in x[1:] if t is not None), None)
        if self._fast_for(x, n):
            outputs = self._forward_cf([_to_cf(t) for t in x], n, logits, arities, None)
            return [None if t is None else t.movedim(0, -1) for t in outputs]
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

    def _fast_for(self, x: Predicates, n: int | None) -> bool:
        """Whether to take the fast path for inputs x (see `FAST_MIN_SIZE`)."""
        batch = next((t.shape[0] for t in x if t is not None), 0)
        size = batch * (n or 1) ** self.breadth * math.factorial(self.breadth)
        return self.fast and size >= self.fast_min_size

    def _forward_cf(
        self, x: Predicates, n: int | None, logits: bool, arities: Sequence[int] | None, memo: dict | None
    ) -> Predicates:
        """The fast path on channels-first groups `[C_r, B, n^r]` (in and out); `memo` as in `_reduced`."""
        outputs: Predicates = []
        for r in range(self.breadth + 1):
            out = None
            if self.produced_channels[r] > 0 and (arities is None or r in arities):
                out = self._logic_fast(r, x, n, memo)
                out = out if logits else out.sigmoid_()  # out is a fresh tensor: in place
            if self.residual:
                present = [t for t in (x[r], out) if t is not None]
                out = torch.cat(present) if present else None
            outputs.append(out)
        return outputs

    def _logic_fast(self, r: int, x: Predicates, n: int | None, memo: dict | None) -> torch.Tensor:
        """Pre-sigmoid arity-r output `[C_out, B, n^r]` of channels-first x: `logic[r](permute(cat(parts)))`.

        Channels first, a C_in → C_out map is one wide matmul `W · X[C_in, B·n^r]` (several times faster
        on CPU than `X[B·n^r, C_in] · Wᵀ` at C ≈ 8) and ∃/∀ reduce a contiguous innermost axis.
        """
        linear, perms = self.logic[r], list(itertools.permutations(range(r)))
        c_out = linear.out_features
        # weight columns: r! permutation blocks, each [expand part, self part, ∃ part, ∀ part]
        weight = linear.weight.view(c_out, len(perms), -1)
        widths = [self.in_channels[r - 1] if r > 0 else 0, self.in_channels[r]]
        widths.append(2 * self.in_channels[r + 1] if r < self.breadth else 0)
        groups = [x[r - 1] if r > 0 else None, x[r], x[r + 1] if r < self.breadth else None]
        lower, own, start = None, [], 0
        for part, (width, group) in enumerate(zip(widths, groups, strict=True)):
            if width == 0:
                continue
            if group is None:
                raise ValueError(f"arity-{r} logic expects {width} channels from a missing predicate group")
            group = _reduced(group, self.exclude_self, memo) if part == 2 else group
            entry = (group.reshape(width, -1), group.shape[1:], slice(start, start + width))
            start += width
            if part == 0:
                lower = entry
            else:
                own.append(entry)
        if lower is not None and n is None:
            raise ValueError("cannot expand nullary predicates: no predicate of arity ≥ 1 gives n")

        def mix(entry: tuple, k: int) -> torch.Tensor:
            flat, shape, cols = entry
            return (weight[:, k, cols] @ flat).view(c_out, *shape)

        full = (c_out, next(g for g in groups if g is not None).shape[1], *(n,) * r)
        orders = [(0, 1, *(2 + p for p in perm)) for perm in perms]
        out = None
        if own:
            blocks = [t for flat, _, cols in own for t in (weight[:, :, cols].transpose(0, 1), flat)]
            out = _PermutedMix.apply(full, orders, linear.bias, *blocks)
        terms = []
        if lower is not None:
            # expand after the map: block k puts the new object axis at output axis j where perm[j] = r − 1;
            # the (r − 1)! blocks sharing j are summed at size n^(r−1), then broadcast over axis j once
            for j in range(r):
                acc = None
                for k, perm in enumerate(perms):
                    if perm[j] == r - 1:
                        rest = [p for i, p in enumerate(perm) if i != j]
                        term = mix(lower, k).permute(0, 1, *(2 + p for p in rest))
                        acc = term if acc is None else acc + term
                terms.append(acc.unsqueeze(2 + j))
        owned = out is not None
        out = linear.bias.view(c_out, *(1,) * (r + 1)) if out is None else out
        for term in terms:
            # in place only into a full-size sum allocated here, never into a view (autograd would copy
            # the gradient of every in-place step on a view)
            if owned:
                out.add_(term)
            else:
                out = out + term
                owned = out.shape == full
        return out if owned else out.expand(full).contiguous()  # never a view: callers work in place


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
        fast: bool = True,
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
            layer = NLMLayer(dims, list(channels), exclude_self=exclude_self, residual=residual, fast=fast)
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
        x = _pad(inputs, self.breadth + 1)
        n = next((t.shape[1] for t in x[1:] if t is not None), None)
        if not self.layers[0]._fast_for(x, n):
            layers = self.forward_layers(inputs)
            if self.include_inputs:
                layers = [_pad(inputs, self.breadth + 1)] + layers
            return [_merge([groups[r] for groups in layers]) for r in range(self.breadth + 1)]
        # fast: channels first from the inputs to the concatenation, so every layer output is one tensor
        # that its readers (next layer, concatenation) share, and their gradients add up contiguously
        x, memo = [_to_cf(t) for t in x], {}
        layers = [x] if self.include_inputs else []
        for layer in self.layers:
            x = layer._forward_cf(x, n, False, None, memo)
            layers.append(x)
        outputs: Predicates = []
        for r in range(self.breadth + 1):
            parts = [groups[r] for groups in layers if groups[r] is not None]
            merged = torch.cat(parts).movedim(0, -1) if parts else None
            if merged is not None:
                merged._nlm_parts = [
                    (p, {es: red for (_, es), (t, red) in memo.items() if t is p}) for p in parts
                ]
            outputs.append(merged)
        return outputs


NLMStack = KnowledgeBase


def use_fast_path(module: nn.Module, fast: bool = True, min_size: int = FAST_MIN_SIZE) -> None:
    """Set every `NLMLayer` inside `module` to the fast path from `min_size` on (`fast=False`: reference)."""
    for layer in module.modules():
        if isinstance(layer, NLMLayer):
            layer.fast, layer.fast_min_size = fast, min_size


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
        fast: bool = True,
    ):
        super().__init__()
        if not 0 <= arity < len(in_channels):
            raise ValueError(f"target arity {arity} outside 0..{len(in_channels) - 1}")
        self.arity = arity
        self.layer = NLMLayer(in_channels, hidden_channels, exclude_self=exclude_self, fast=fast)
        width = self.layer.out_channels[arity]
        if width == 0:
            raise ValueError(f"head layer makes no arity-{arity} predicates from inputs {list(in_channels)}")
        self.readout = nn.Linear(width, 1)

    def forward(self, kb_outputs: Sequence[torch.Tensor | None], probs: bool = False) -> torch.Tensor:
        """Target logits `[B, n^arity]` (sigmoid if `probs`) of KB outputs `[B, n^r, in_channels[r]]`."""
        logits = self.readout(self.layer(kb_outputs, arities=[self.arity])[self.arity]).squeeze(-1)
        return torch.sigmoid(logits) if probs else logits
