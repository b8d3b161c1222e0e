"""NLM fast path (issue 18) against the reference formula (`fast=False`): outputs and every gradient."""

import copy

import pytest
import torch

from rllib_nsrl.symbolic.nlm import FAST_MIN_SIZE, KnowledgeBase, NLMLayer, TaskHead, reduce, use_fast_path
from rllib_nsrl.symbolic.nlm import _reduce_cf as reduce_channels_first

TOL = {torch.float64: {"rtol": 1e-9, "atol": 1e-12}, torch.float32: {"rtol": 1e-5, "atol": 1e-5}}


def _inputs(channels, n, batch=2, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        None if c is None else torch.rand(batch, *(n,) * r, c, generator=g, dtype=dtype)
        for r, c in enumerate(channels)
    ]


def _run(module, inputs, call):
    """{name: tensor or None}: outputs, input gradients and parameter gradients under a fixed loss."""
    xs = [None if x is None else x.clone().requires_grad_() for x in inputs]
    outs = call(module, xs)
    outs = [outs] if isinstance(outs, torch.Tensor) else outs
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.rand(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs if o is not None)
    module.zero_grad(set_to_none=True)
    loss.backward()
    res = {f"out{i}": None if o is None else o.detach() for i, o in enumerate(outs)}
    res |= {f"grad_in{i}": None if x is None else x.grad for i, x in enumerate(xs)}
    return res | {f"grad_{k}": p.grad for k, p in module.named_parameters()}


def _assert_same(fast, ref, dtype):
    assert fast.keys() == ref.keys()
    for key, value in ref.items():
        assert (fast[key] is None) == (value is None), key
        if value is not None:
            torch.testing.assert_close(fast[key], value, **TOL[dtype], msg=lambda m, key=key: f"{key}: {m}")


def _compare(build, inputs, call=lambda m, xs: m(xs), dtype=torch.float64):
    torch.manual_seed(0)
    fast = build().to(dtype)
    use_fast_path(fast, min_size=0)  # the fast formula even at these tiny sizes
    ref = copy.deepcopy(fast)
    use_fast_path(ref, False)
    inputs = [None if x is None else x.to(dtype) for x in inputs]
    _assert_same(_run(fast, inputs, call), _run(ref, inputs, call), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("exclude_self", [True, False])
@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("breadth", [1, 2, 3])
def test_layer_matches_reference(breadth, n, exclude_self, dtype):
    channels = [2, 3, 2, 1][: breadth + 1]
    _compare(
        lambda: NLMLayer(channels, [3, 2, 4, 2][: breadth + 1], exclude_self=exclude_self),
        _inputs(channels, n),
        dtype=dtype,
    )


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("breadth", [1, 2, 3])
def test_layer_missing_groups_logits_and_residual(breadth, residual):
    channels = [0, 2, 0, 1][: breadth + 1]
    inputs = [None, *_inputs(channels, 4)[1:]]
    if breadth >= 2:
        inputs[2] = torch.zeros(2, 4, 4, 0, dtype=torch.float64)  # zero channels count as missing
    _compare(
        lambda: NLMLayer(channels, [2, 0, 3, 2][: breadth + 1], residual=residual),
        inputs,
        call=lambda m, xs: m(xs, logits=True),
    )


@pytest.mark.parametrize("include_inputs", [True, False])
@pytest.mark.parametrize("breadth", [2, 3])
def test_knowledge_base_and_head_match_reference(breadth, include_inputs):
    """The KB hands its layers' ∃/∀ to the head (`_nlm_parts`): same outputs and gradients."""
    in_channels = [0, 1, 2, 1][: breadth + 1]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.kb = KnowledgeBase(in_channels, [[3] * (breadth + 1)] * 3, include_inputs=include_inputs)
            self.head = TaskHead(self.kb.out_channels, arity=breadth - 1, hidden_channels=3)

        def forward(self, xs):
            out = self.kb(xs)
            return [self.head(out), *out]

    _compare(Model, _inputs([None, *in_channels[1:]], 5))
    _compare(Model, _inputs([None, *in_channels[1:]], 5), dtype=torch.float32)


def test_ties_split_the_gradient_like_amax():
    """0/1 predicates tie everywhere: the fast ∃/∀ must split gradients like amax/amin, masked ties too."""
    x = (torch.rand(2, 4, 4, 4, 3, generator=torch.Generator().manual_seed(0)) > 0.5).double()
    x[0, :, :, :, 0] = 0.0  # rows whose only maximum is the masked 0
    weights = torch.rand(2, 4, 4, 6, dtype=torch.float64)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref = reduce(a)
    out_fast = reduce_channels_first(b.movedim(-1, 0), True).movedim(0, -1)
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=0)
    (out_ref * weights).sum().backward()
    (out_fast * weights).sum().backward()
    torch.testing.assert_close(b.grad, a.grad, rtol=1e-12, atol=1e-12)


def test_reference_state_dict_loads_into_fast_path():
    torch.manual_seed(0)
    ref = KnowledgeBase([0, 1, 1, 0], [[8, 8, 8, 8]] * 2, fast=False)
    head_ref = TaskHead(ref.out_channels, arity=2, hidden_channels=[8, 8, 8, 8], fast=False)
    fast = KnowledgeBase([0, 1, 1, 0], [[8, 8, 8, 8]] * 2)
    head = TaskHead(fast.out_channels, arity=2, hidden_channels=[8, 8, 8, 8])
    use_fast_path(fast, min_size=0)
    use_fast_path(head, min_size=0)
    assert fast.state_dict().keys() == ref.state_dict().keys()
    fast.load_state_dict(ref.state_dict())
    head.load_state_dict(head_ref.state_dict())
    xs = _inputs([None, 1, 1], 5, dtype=torch.float32)
    torch.testing.assert_close(head(fast(xs)), head_ref(ref(xs)), **TOL[torch.float32])


def test_detached_kb_outputs_send_no_gradient_to_the_kb():
    """A head on detached KB outputs (BlocksWorld's actor) must not reach the KB through shared ∃/∀."""
    kb = KnowledgeBase([0, 1, 1, 1], [[3, 3, 3, 3]] * 2)
    head = TaskHead(kb.out_channels, arity=2, hidden_channels=3)
    use_fast_path(kb, min_size=0)
    use_fast_path(head, min_size=0)
    out = kb(_inputs([None, 1, 1, 1], 4, dtype=torch.float32))
    head([None if o is None else o.detach() for o in out]).sum().backward()
    assert all(p.grad is None for p in kb.parameters())
    assert all(p.grad is not None for p in head.layer.logic[2].parameters())


def test_fast_path_skips_unread_arities_and_checks_missing_groups():
    layer = NLMLayer([1, 1, 1, 1], 2)
    use_fast_path(layer, min_size=0)
    xs = _inputs([1, 1, 1, 1], 3, dtype=torch.float32)
    out = layer(xs, arities=[2])
    assert out[2].shape == (2, 3, 3, 2) and out[0] is None and out[3] is None
    with pytest.raises(ValueError, match="missing predicate group"):
        layer([xs[0], None, xs[2], xs[3]])


def test_small_inputs_take_the_reference_formula():
    """Below FAST_MIN_SIZE (batch · n^B · B!) the reference is quicker: a `fast` layer computes with it."""
    layer = NLMLayer([1, 1, 1, 1], 2)
    small = _inputs([1, 1, 1, 1], 3, dtype=torch.float32)  # 2 · 3³ · 6 = 324
    assert FAST_MIN_SIZE > 324 and layer(small, arities=[2])[0] is not None  # the reference computes all
    big = _inputs([1, 1, 1, 1], 20, dtype=torch.float32)  # 2 · 20³ · 6 = 96 000
    assert FAST_MIN_SIZE <= 96_000 and layer(big, arities=[2])[0] is None
