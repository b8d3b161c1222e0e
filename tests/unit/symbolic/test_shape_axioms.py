import math

import pytest
import torch

from rllib_nsrl.constants import SAT_A1, SAT_A2, SAT_A3, SAT_SHAPES
from rllib_nsrl.symbolic.patches import grid_patches
from rllib_nsrl.symbolic.shape_axioms import (
    label_inequality,
    shape_axioms,
    shape_axioms_formulas,
    shape_axioms_loss,
)
from rllib_nsrl.symbolic.shape_recognizer import ShapeRecognizer

KEYS = (SAT_A1, SAT_A2, SAT_A3, SAT_SHAPES)


def sats(truths):
    return {k: float(v.detach()) for k, v in shape_axioms(truths).items()}


@pytest.fixture
def good():
    # Four distinct patches, one distinct label each (label 4 unused).
    return torch.eye(5)[:4].clone()


def test_consistent_labelling_scores_high(good):
    s = sats(good)
    assert s[SAT_A2] > 0.99 and s[SAT_A3] > 0.99
    # ∃ as p-mean (p = 8) over 5 labels with one true: 0.2 ** (1 / 8) ≈ 0.818 is A1's ceiling.
    assert s[SAT_A1] == pytest.approx(0.2 ** (1 / 8), abs=1e-3)
    assert all(0.0 <= v <= 1.0 for v in s.values())


def test_patch_without_label_violates_a1(good):
    bad = good.clone()
    bad[0] = 0.0
    s_good, s_bad = sats(good), sats(bad)
    assert s_bad[SAT_A1] < s_good[SAT_A1] - 0.3
    assert s_bad[SAT_SHAPES] < s_good[SAT_SHAPES]


def test_patch_with_two_labels_violates_a2(good):
    bad = good.clone()
    bad[0, 4] = 1.0  # second label, not used by any other patch: A3 unaffected
    s_good, s_bad = sats(good), sats(bad)
    assert s_bad[SAT_A2] < s_good[SAT_A2] - 0.3
    assert s_bad[SAT_A3] == pytest.approx(s_good[SAT_A3], abs=1e-3)
    assert s_bad[SAT_SHAPES] < s_good[SAT_SHAPES]


def test_two_patches_with_same_label_violate_a3(good):
    bad = good.clone()
    bad[1] = good[0]
    s_good, s_bad = sats(good), sats(bad)
    assert s_bad[SAT_A3] < s_good[SAT_A3] - 0.3
    assert s_bad[SAT_A1] == pytest.approx(s_good[SAT_A1], abs=1e-3)
    assert s_bad[SAT_A2] == pytest.approx(s_good[SAT_A2], abs=1e-3)
    assert s_bad[SAT_SHAPES] < s_good[SAT_SHAPES]


def test_empty_set_is_vacuously_true_without_nan():
    truths = torch.zeros(0, 5, requires_grad=True)
    out = shape_axioms(truths)
    assert all(float(out[k].detach()) == 1.0 for k in KEYS)
    loss = shape_axioms_loss(out)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert truths.grad is not None and truths.grad.numel() == 0


def test_singleton_has_vacuous_a3_and_finite_gradient():
    truths = torch.rand(1, 5, requires_grad=True)
    out = shape_axioms(truths)
    assert float(out[SAT_A3].detach()) == 1.0
    assert all(torch.isfinite(out[k]) for k in KEYS)
    shape_axioms_loss(out).backward()
    assert torch.isfinite(truths.grad).all() and truths.grad.abs().sum() > 0


def descend(logits, steps, lr=5.0):
    """Plain gradient descent on 1 − SatAgg (torch.optim's first step costs seconds of lazy imports)."""
    losses = []
    for _ in range(steps):
        loss = shape_axioms_loss(shape_axioms(torch.sigmoid(logits)))
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(grad).all()
        logits = (logits - lr * grad).detach().requires_grad_()
        losses.append(float(loss.detach()))
    return losses, logits.detach()


def test_gradient_descent_improves_satisfaction_from_random_truths():
    torch.manual_seed(0)
    losses, _ = descend(torch.randn(5, 5, requires_grad=True), 40)
    assert losses[-1] < losses[0] - 0.05


def test_gradient_descent_sharpens_a_noisy_labelling_into_distinct_labels():
    torch.manual_seed(0)
    perm = torch.randperm(5)
    logits = (2.0 * torch.eye(5)[perm] - 1.0 + 0.5 * torch.randn(5, 5)).requires_grad_()
    losses, logits = descend(logits, 40)
    assert losses[-1] < losses[0]
    assert torch.equal(torch.sigmoid(logits).argmax(dim=1), perm)
    assert ((torch.sigmoid(logits) > 0.5).sum(dim=1) == 1).all()


def test_recognizer_output_range_and_cell_helper():
    torch.manual_seed(0)
    net = ShapeRecognizer()
    obs = torch.rand(2, 50, 50, 3)
    per_cell = net.observation_truths(obs)
    assert per_cell.shape == (2, 25, 5)
    assert ((per_cell > 0) & (per_cell < 1)).all()
    assert torch.allclose(per_cell.reshape(50, 5), net(grid_patches(obs).reshape(50, 3, 10, 10)))
    ref = ShapeRecognizer(channels=(32, 64), downsample=False)
    assert ref(torch.rand(3, 3, 10, 10)).shape == (3, 5)


def test_large_set_is_finite():
    out = shape_axioms(torch.rand(300, 5, dtype=torch.float32))
    assert all(torch.isfinite(out[k]) and 0.0 <= float(out[k]) <= 1.0 for k in KEYS)


def test_results_do_not_depend_on_the_global_ltn_device(monkeypatch):
    import ltn

    from rllib_nsrl.symbolic.action_reasoner import action_reasoner_sat, action_reasoner_sat_formulas

    torch.manual_seed(0)
    truths, r, q = torch.rand(6, 5), torch.randn(4, 4), torch.randn(4, 4)
    evaluations = (  # the formula-API versions are the ones that go through ltn.Variable
        lambda: shape_axioms(truths)[SAT_SHAPES],
        lambda: shape_axioms_formulas(truths)[SAT_SHAPES],
        lambda: action_reasoner_sat(r, q),
        lambda: action_reasoner_sat_formulas(r, q),
    )
    expected = [f() for f in evaluations]
    # A device no tensor of ours lives on: any tensor left there would fail to combine with the inputs.
    monkeypatch.setattr(ltn, "device", torch.device("meta"))
    for f, value in zip(evaluations, expected, strict=True):
        assert torch.equal(f(), value)


@pytest.mark.parametrize("a2_inequality", ["exact", "reference"])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 17])
def test_fast_path_equals_the_ltn_formula_api_in_value_and_gradient(n, a2_inequality):
    torch.manual_seed(n)
    truths = torch.rand(n, 5, requires_grad=True)
    fast = shape_axioms(truths, a2_inequality=a2_inequality)
    ref = shape_axioms_formulas(truths, a2_inequality=a2_inequality)
    for key in KEYS:
        assert torch.allclose(fast[key].float(), ref[key].float(), atol=1e-6), key
    if n:
        (g_fast,) = torch.autograd.grad(fast[SAT_SHAPES], truths)
        (g_ref,) = torch.autograd.grad(ref[SAT_SHAPES], truths)
        assert torch.allclose(g_fast, g_ref, atol=1e-6)


C_REF = 1.0 - math.exp(-math.sqrt(2.0))  # ≈ 0.757: two different one-hot labels under the reference's ≠


def test_label_inequality_exact_and_reference():
    labels = torch.eye(5, dtype=torch.float64)
    off = ~torch.eye(5, dtype=torch.bool)
    exact, ref = label_inequality(labels, "exact"), label_inequality(labels, "reference")
    assert torch.equal(exact, 1.0 - torch.eye(5, dtype=torch.float64))
    assert torch.equal(ref.diagonal(), torch.zeros(5, dtype=torch.float64))
    assert torch.allclose(ref[off], torch.full((20,), C_REF, dtype=torch.float64))
    assert C_REF == pytest.approx(0.7569, abs=1e-4)
    with pytest.raises(ValueError, match="a2_inequality"):
        label_inequality(labels, "euclid")


@pytest.mark.parametrize("fn", [shape_axioms, shape_axioms_formulas])
def test_a2_of_one_shape_with_two_labels_by_hand(fn):
    # 1 shape × 5 × 5 label pairs; only (l1, l2) = (0, 1) and (1, 0) are true and different:
    # ∃ = (2 · ne⁸ / 25)^(1/8) = ne · (2/25)^(1/8), A2 = 1 − that, ne = 1 (exact) or C_REF (reference).
    truths = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    exists = (2 / 25) ** (1 / 8)
    exact = float(fn(truths, a2_inequality="exact")[SAT_A2])
    ref = float(fn(truths, a2_inequality="reference")[SAT_A2])
    assert exact == pytest.approx(1.0 - exists, abs=1e-4)  # 0.271
    assert ref == pytest.approx(1.0 - C_REF * exists, abs=1e-4)  # 0.448: weaker A2


def test_reference_inequality_scales_the_a2_violation_and_leaves_a1_a3():
    torch.manual_seed(1)
    truths = torch.rand(7, 5, dtype=torch.float64)
    exact, ref = shape_axioms(truths), shape_axioms(truths, a2_inequality="reference")
    assert float(ref[SAT_A2]) == pytest.approx(1.0 - C_REF * (1.0 - float(exact[SAT_A2])), abs=1e-4)
    assert float(ref[SAT_A1]) == float(exact[SAT_A1]) and float(ref[SAT_A3]) == float(exact[SAT_A3])
    assert float(ref[SAT_SHAPES]) > float(exact[SAT_SHAPES])


def test_default_is_the_exact_inequality_with_unchanged_values():
    rows = [[0.9, 0.8, 0.1, 0.0, 0.2], [0.1, 0.2, 0.95, 0.3, 0.0], [0.0, 0.1, 0.2, 0.7, 0.6]]
    truths = torch.tensor(rows, dtype=torch.float64)
    default = shape_axioms(truths)
    assert {k: float(v) for k, v in default.items()} == {
        k: float(v) for k, v in shape_axioms(truths, a2_inequality="exact").items()
    }
    # pinned before the option existed
    assert float(default[SAT_A2]) == pytest.approx(0.5414490428041553, abs=1e-12)
    assert float(default[SAT_SHAPES]) == pytest.approx(0.6531910742028276, abs=1e-12)
    reference = shape_axioms(truths, a2_inequality="reference")
    assert float(reference[SAT_SHAPES]) == pytest.approx(0.69943, abs=1e-4)
