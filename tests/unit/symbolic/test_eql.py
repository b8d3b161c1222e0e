"""EQL actor, its input helper and the smoothed L½ penalty (INSIGHT, the INSIGHT paper)."""

import math

import pytest
import torch

from rllib_nsrl.symbolic.eql import (
    INSIGHT_WIDTHS,
    PRIMITIVES,
    PRODUCT_CLIP,
    EQLActor,
    SymbolicLayer,
    eql_inputs,
    l_half_penalty,
    smoothed_sqrt_abs,
)

ONE_EACH = {name: 1 for name in PRIMITIVES}


def _set(linear, weight, bias):
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def test_insight_shapes():
    actor = EQLActor(in_dim=3 * 4 * 2, num_actions=6)
    layer = actor.layers[0]
    assert layer.linear.weight.shape == (8 * 4 + 2 * 8 * 2, 24)  # 64 columns feed 48 units
    assert layer.out_dim == 48 and actor.out.weight.shape == (6, 48)
    assert actor(torch.rand(5, 24)).shape == (5, 6)
    assert EQLActor(24, 6, num_layers=2)(torch.rand(5, 24)).shape == (5, 6)
    assert EQLActor(24, 6, num_layers=0)(torch.rand(5, 24)).shape == (5, 6)
    assert len(actor.regularized_parameters()) == 4
    assert {id(p) for p in actor.regularized_parameters()} == {id(p) for p in actor.parameters()}


def test_each_primitive_on_its_columns():
    layer = SymbolicLayer(1, ONE_EACH)
    # column j of the linear map = (j + 1)·x: unary units read columns 0..3, binary units 4-5 and 6-7
    _set(layer.linear, [[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0]], [0.0] * 8)
    x = torch.tensor([[0.5], [-2.0]])
    out = layer(x)
    expected = torch.cat([x**2, (2 * x) ** 3, torch.ones_like(x), 4 * x, (5 * x) * (6 * x), 7 * x + 8 * x], 1)
    torch.testing.assert_close(out, expected)


def test_widths_group_units_by_primitive():
    widths = {"square": 2, "identity": 3, "sum": 1}
    layer = SymbolicLayer(2, widths)
    assert layer.out_dim == 6 and layer.linear.out_features == 2 + 3 + 2
    with torch.no_grad():
        layer.linear.weight.fill_(1.0)
        layer.linear.bias.zero_()
    x = torch.tensor([[1.0, 2.0]])
    torch.testing.assert_close(layer(x), torch.tensor([[9.0, 9.0, 3.0, 3.0, 3.0, 6.0]]))
    with pytest.raises(ValueError, match="unknown primitive"):
        SymbolicLayer(2, {"sine": 1})


def test_product_is_clipped():
    layer = SymbolicLayer(1, {"product": 1})
    _set(layer.linear, [[1e3], [1e3]], [0.0, 0.0])
    assert layer(torch.tensor([[1.0], [-1.0]])).flatten().tolist() == [PRODUCT_CLIP, PRODUCT_CLIP]
    _set(layer.linear, [[1e3], [-1e3]], [0.0, 0.0])
    assert layer(torch.tensor([[1.0]])).item() == -PRODUCT_CLIP


def test_hand_set_actor_computes_its_formula():
    actor = EQLActor(in_dim=2, num_actions=2, widths=ONE_EACH)
    # units: x0², x1³, 1, (x0 + x1 + 0.5), x0·x1, (x0 + 2·x1)
    _set(
        actor.layers[0].linear,
        [[1, 0], [0, 1], [0, 0], [1, 1], [1, 0], [0, 1], [1, 0], [0, 2]],
        [0, 0, 0, 0.5, 0, 0, 0, 0],
    )
    _set(actor.out, [[1, 2, 3, -1, 0.5, 1], [0, 0, 0, 0, 0, 0]], [0.1, -0.2])
    x = torch.rand(7, 2)
    x0, x1 = x[:, 0], x[:, 1]
    formula = x0**2 + 2 * x1**3 + 3 - (x0 + x1 + 0.5) + 0.5 * x0 * x1 + (x0 + 2 * x1) + 0.1
    logits = actor(x)
    torch.testing.assert_close(logits[:, 0], 10 * formula)
    torch.testing.assert_close(logits[:, 1], torch.full((7,), -2.0))


def test_eql_inputs_zero_absent_and_clamp():
    coords = torch.tensor([[[[0.2, 1.3]], [[0.7, 0.9]], [[-0.1, 0.4]]]], requires_grad=True)  # [1, 3, 1, 2]
    logits = torch.tensor([[[2.0], [0.0], [-1.0]]])  # sigmoid: 0.88 kept, exactly 0.5 dropped, 0.27 dropped
    out = eql_inputs(coords, logits)
    assert out.shape == (1, 6)
    assert out.tolist() == [[pytest.approx(0.2), 1.0, 0.0, 0.0, 0.0, 0.0]]
    out.sum().backward()
    assert coords.grad.flatten().tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # clamped or dropped: no grad


def test_eql_inputs_follow_variable_names_order():
    coords = torch.arange(2 * 3 * 4 * 2, dtype=torch.float32).reshape(2, 3, 4, 2) / 100
    out = eql_inputs(coords, torch.ones(2, 3, 4))
    torch.testing.assert_close(out[1, 2 * 3 + 1], coords[1, 0, 3, 1])  # y of slot 0, frame 4


def test_smoothed_sqrt_abs_matches_sqrt_above_a():
    w = torch.tensor([0.05, -0.07, 0.3, -2.0, 10.0])
    torch.testing.assert_close(smoothed_sqrt_abs(w), w.abs().sqrt())
    w = torch.tensor([0.0, 0.01, -0.049])
    assert (smoothed_sqrt_abs(w) > 0).all() and smoothed_sqrt_abs(torch.tensor(0.0)) == math.sqrt(
        3 * 0.05 / 8
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_smoothing_is_continuous_with_continuous_gradient_at_a(sign):
    a = 0.05
    w = torch.tensor([a - 1e-6, a, a + 1e-6], dtype=torch.float64) * sign
    w.requires_grad_(True)
    values = smoothed_sqrt_abs(w, a)
    (grad,) = torch.autograd.grad(values.sum(), w)
    assert torch.allclose(values, torch.full_like(values, math.sqrt(a)), atol=1e-5)
    slope = sign / (2 * math.sqrt(a))  # d√|w|/dw at |w| = a
    assert torch.allclose(grad, torch.full_like(grad, slope), atol=1e-4)
    # finite differences straddling a agree with autograd on both sides
    h = 1e-7
    for w0 in (a - 1e-4, a + 1e-4):
        w0 = torch.tensor(sign * w0, dtype=torch.float64, requires_grad=True)
        fd = (smoothed_sqrt_abs(w0 + h, a) - smoothed_sqrt_abs(w0 - h, a)) / (2 * h)
        (g,) = torch.autograd.grad(smoothed_sqrt_abs(w0, a), w0)
        assert abs(fd.item() - g.item()) < 1e-5 and abs(g.item() - slope) < 0.01


def test_smoothed_gradient_is_finite_and_zero_at_zero():
    w = torch.linspace(-0.1, 0.1, 201, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(smoothed_sqrt_abs(w).sum(), w)
    assert torch.isfinite(grad).all()
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.grad(smoothed_sqrt_abs(zero), zero)[0] == 0.0
    assert grad.abs().max() < 1.1 / (2 * math.sqrt(0.05))  # bounded near 0, where √|w|'s slope explodes


def test_l_half_penalty_sums_over_parameters():
    actor = EQLActor(24, 6)
    params = actor.regularized_parameters()
    expected = sum(smoothed_sqrt_abs(p).sum() for p in params)
    torch.testing.assert_close(l_half_penalty(params), expected)
    l_half_penalty(params).backward()
    assert all(p.grad is not None for p in params)
    assert INSIGHT_WIDTHS == {"square": 8, "cube": 8, "constant": 8, "identity": 8, "product": 8, "sum": 8}
