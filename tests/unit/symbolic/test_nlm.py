"""NLM layer semantics (expand / reduce / permute, exclude-self), hand-set logic, equivariance, lifting."""

import itertools

import pytest
import torch

from rllib_nsrl.symbolic.nlm import (
    KnowledgeBase,
    NLMLayer,
    NLMStack,
    TaskHead,
    distinct_mask,
    expand,
    permute,
    reduce,
)


def test_expand_adds_a_broadcast_last_object_axis():
    x = torch.arange(6.0).view(1, 2, 3)  # unary, n = 2, C = 3
    out = expand(x, 4)
    assert out.shape == (1, 2, 4, 3)
    for i, j in itertools.product(range(2), range(4)):
        assert torch.equal(out[0, i, j], x[0, i])
    nullary = torch.tensor([[1.0, 2.0]])
    assert torch.equal(expand(nullary, 3), nullary.view(1, 1, 2).expand(1, 3, 2))


def test_reduce_binary_exists_forall_with_and_without_exclude_self():
    eye = torch.eye(3).view(1, 3, 3, 1)
    # ∃ / ∀ over Y ≠ X: the diagonal is masked, so the identity relation holds for no other Y.
    assert torch.equal(reduce(eye, exclude_self=True), torch.zeros(1, 3, 2))
    assert torch.equal(reduce(eye, exclude_self=False), torch.tensor([[[1.0, 0.0]] * 3]))
    off = 1 - eye
    assert torch.equal(reduce(off, exclude_self=True), torch.ones(1, 3, 2))
    assert torch.equal(reduce(off, exclude_self=False), torch.tensor([[[1.0, 0.0]] * 3]))


def test_reduce_values_and_channel_layout():
    x = torch.tensor([[0.9, 0.2, 0.4], [0.1, 0.3, 0.8], [0.5, 0.6, 0.7]]).view(1, 3, 3, 1)
    x = torch.cat([x, 1 - x], dim=-1)  # C = 2
    out = reduce(x, exclude_self=True)
    assert out.shape == (1, 3, 4)  # [∃ c0, ∃ c1, ∀ c0, ∀ c1]
    for i in range(3):
        others = [j for j in range(3) if j != i]
        for c in range(2):
            vals = x[0, i, others, c]
            assert out[0, i, c] == vals.max()
            assert out[0, i, 2 + c] == vals.min()


def test_reduce_unary_to_nullary_is_unmasked_and_ternary_masks_repeats():
    u = torch.tensor([[[0.2], [0.7], [0.4]]])
    assert torch.allclose(reduce(u), torch.tensor([[0.7, 0.2]]))
    assert distinct_mask(3, 3).sum() == 6 and distinct_mask(4, 2).sum() == 12
    out = reduce(torch.ones(1, 3, 3, 3, 1))
    assert out.shape == (1, 3, 3, 2)
    assert torch.equal(out[0, :, :, 0], 1 - torch.eye(3))  # ∃Z ∉ {X, Y}: none left when X = Y
    assert torch.equal(out[0, :, :, 1], torch.ones(3, 3))


def test_permute_concatenates_all_orderings():
    x = torch.rand(2, 3, 3, 2)
    out = permute(x)
    assert out.shape == (2, 3, 3, 4)
    assert torch.equal(out[..., :2], x) and torch.equal(out[..., 2:], x.transpose(1, 2))
    t = torch.rand(1, 3, 3, 3, 1)
    out3 = permute(t)
    assert out3.shape == (1, 3, 3, 3, 6)
    for k, perm in enumerate(itertools.permutations(range(3))):
        assert torch.equal(out3[..., k], t.permute(0, *(1 + p for p in perm), 4)[..., 0])
    unary = torch.rand(1, 3, 5)
    assert permute(unary) is unary


def test_layer_channel_bookkeeping_and_residual():
    layer = NLMLayer([1, 2, 3, 4], 5)
    assert [m.in_features for m in layer.logic] == [
        1 + 2 * 2,
        2 + 1 + 2 * 3,
        (3 + 2 + 2 * 4) * 2,
        (4 + 3) * 6,
    ]
    res = NLMLayer([1, 2, 3, 4], [5, 5, 0, 5], residual=True)
    assert res.out_channels == [6, 7, 3, 9]
    xs = [torch.rand(2, 1), torch.rand(2, 4, 2), torch.rand(2, 4, 4, 3), torch.rand(2, 4, 4, 4, 4)]
    outs = res(xs)
    assert [o.shape[-1] for o in outs] == res.out_channels
    assert torch.equal(outs[2], xs[2])  # no new arity-2 predicates: only the residual copy


def test_missing_arities_as_none_or_zero_channels():
    layer = NLMLayer([0, 1, 1], [2, 2, 0])
    unary, binary = torch.rand(3, 5, 1), torch.rand(3, 5, 5, 1)
    a = layer([None, unary, binary])
    b = layer([torch.zeros(3, 0), unary, binary])
    assert a[2] is None and a[0].shape == (3, 2) and a[1].shape == (3, 5, 2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def _hand_set_adjacent_to_red() -> NLMStack:
    """Layer 1: P(X, Y) = IsConnected(X, Y) ∧ IsRed(Y); layer 2: ∃Y P(X, Y)."""
    kb = KnowledgeBase([0, 1, 1], [[0, 0, 1], [0, 1, 0]], include_inputs=False)
    first, second = kb.layers[0].logic[2], kb.layers[1].logic[1]
    with torch.no_grad():
        # arity-2 channels: identity perm [IsRed(X), IsConn(X,Y)], swapped perm [IsRed(Y), IsConn(Y,X)]
        first.weight.copy_(torch.tensor([[0.0, 20.0, 20.0, 0.0]]))
        first.bias.fill_(-30.0)
        second.weight.copy_(torch.tensor([[20.0, 0.0]]))  # [∃Y P, ∀Y P]
        second.bias.fill_(-10.0)
    return kb


def test_hand_set_weights_compute_exists_connected_red():
    edges = [(0, 1), (1, 2), (3, 4)]
    red = [2, 3]
    n = 6
    conn = torch.zeros(1, n, n, 1)
    for i, j in edges:
        conn[0, i, j, 0] = conn[0, j, i, 0] = 1.0
    is_red = torch.zeros(1, n, 1)
    is_red[0, red, 0] = 1.0
    out = _hand_set_adjacent_to_red()([None, is_red, conn])[1][0, :, 0]
    expected = [any((i, j) in edges or (j, i) in edges for j in red) for i in range(n)]
    assert expected == [False, True, False, False, True, False]
    assert ((out > 0.5) == torch.tensor(expected)).all()
    assert (torch.where(torch.tensor(expected), 1 - out, out) < 1e-3).all()


def _model(breadth: int = 3):
    torch.manual_seed(0)
    kb = KnowledgeBase([0, 1, 1, 0][: breadth + 1], [[3] * (breadth + 1)] * 2)
    return kb, TaskHead(kb.out_channels, arity=2, hidden_channels=3)


def test_permutation_equivariance():
    kb, head = _model()
    n = 5
    unary, binary = torch.rand(2, n, 1), torch.rand(2, n, n, 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    out = kb([None, unary, binary])
    out_p = kb([None, unary[:, perm], binary[:, perm][:, :, perm]])
    assert torch.allclose(out_p[0], out[0], atol=1e-6)
    assert torch.allclose(out_p[1], out[1][:, perm], atol=1e-6)
    assert torch.allclose(out_p[3], out[3][:, perm][:, :, perm][:, :, :, perm], atol=1e-6)
    target = head(out)
    assert torch.allclose(head(out_p), target[:, perm][:, :, perm], atol=1e-5)


def test_model_for_n_objects_runs_on_2n():
    kb, head = _model()
    for n in (4, 8):
        out = head(kb([None, torch.rand(3, n, 1), torch.rand(3, n, n, 1)]), probs=True)
        assert out.shape == (3, n, n)
        assert ((out >= 0) & (out <= 1)).all()


def test_knowledge_base_keeps_every_layer_and_inputs():
    kb = KnowledgeBase([0, 1, 1, 0], [[8, 8, 8, 8]] * 3)
    assert kb.out_channels == [24, 25, 25, 24]
    inputs = [None, torch.rand(1, 4, 1), torch.rand(1, 4, 4, 1)]
    layers = kb.forward_layers(inputs)
    out = kb(inputs)
    assert len(layers) == 3 and [o.shape[-1] for o in out] == kb.out_channels
    assert torch.equal(out[1][..., :1], inputs[1]) and torch.equal(out[1][..., -8:], layers[2][1])


def test_head_logits_and_probs_and_bad_arity():
    kb, head = _model(breadth=2)
    out = kb([None, torch.rand(1, 4, 1), torch.rand(1, 4, 4, 1)])
    assert torch.allclose(torch.sigmoid(head(out)), head(out, probs=True))
    with pytest.raises(ValueError, match="arity"):
        TaskHead(kb.out_channels, arity=3)
    with pytest.raises(ValueError, match="breadth"):
        KnowledgeBase([0, 1, 1, 1], [[2, 2, 2]])
