import pytest
import torch

from rllib_nsrl.symbolic.action_reasoner import (
    action_pairs,
    action_reasoner_loss,
    action_reasoner_sat,
    action_reasoner_sat_formulas,
)


def test_pairs_are_ordered_distinct_actions():
    v = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    first, second = action_pairs(v)
    assert first.shape == second.shape == (12,)
    assert set(zip(first.tolist(), second.tolist(), strict=True)) == {
        (a, b) for a in range(4) for b in range(4) if a != b
    }


def test_high_when_q_orders_like_rewards_low_when_reversed():
    r = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    aligned = 3.0 * r
    assert float(action_reasoner_sat(r, aligned)) > 0.9
    assert float(action_reasoner_sat(r, -aligned)) < 0.1


def test_guard_ignores_pairs_within_margin():
    torch.manual_seed(0)
    # Reference margin 0.5. State 0: only the pairs (0, k) are guarded (1.0 > r_k + 0.5); state 1:
    # every pair within the margin.
    r = torch.tensor([[1.0, 0.0, 0.0, 0.2], [0.3, 0.0, 0.1, 0.2]])
    q = torch.randn(2, 4)
    base = action_reasoner_sat(r, q, margin=0.5)
    q2 = q.clone()
    q2[1] = torch.randn(4) * 10.0  # unguarded state: arbitrary change
    q2[0, 1:] = q[0, 1:].flip(-1)  # unguarded pairs among actions 1..3: permuted
    assert torch.allclose(action_reasoner_sat(r, q2, margin=0.5), base, atol=1e-6)
    # Guarded quantification, not implication: unguarded pairs do not dilute the ∀ towards 1.
    assert torch.allclose(action_reasoner_sat(r[:1], q[:1], margin=0.5), base, atol=1e-6)
    q3 = q.clone()
    q3[0, 0] = q[0].min() - 3.0  # violate every guarded pair
    assert float(action_reasoner_sat(r, q3, margin=0.5)) < float(base) - 0.3


def test_only_guarded_pairs_matter_across_a_batch():
    torch.manual_seed(0)
    r = torch.tensor([[0.0, 0.2, 0.4, 2.0]] * 3)  # margin 0.5: only the pairs (3, k) are guarded
    q = torch.randn(3, 4)
    base = action_reasoner_sat(r, q, margin=0.5)
    shifted = q.clone()
    shifted[:, :3] = q[:, :3].flip(-1)  # permute the unguarded actions 0..2 among themselves
    assert torch.allclose(action_reasoner_sat(r, shifted, margin=0.5), base, atol=1e-6)
    raised = q.clone()
    raised[:, 3] += 3.0  # the better action's Q rises: every guarded pair is more satisfied
    assert float(action_reasoner_sat(r, raised, margin=0.5)) > float(base)


def test_paper_guard_is_strict_order_of_predicted_rewards():
    r = torch.tensor([[0.1, 0.0, 0.0, 0.0]])  # a1 = 0 beats every other action, by less than 0.5
    aligned = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert float(action_reasoner_sat(r, aligned)) > float(action_reasoner_sat(r, -aligned)) + 0.5
    assert float(action_reasoner_sat(r, -aligned, margin=0.5)) == 1.0  # reference margin: no guarded pair
    tied = torch.zeros(1, 4)
    assert float(action_reasoner_sat(tied, torch.randn(1, 4))) == 1.0  # r1 = r2 is outside the guard


def test_no_guarded_pair_is_vacuously_true_with_zero_gradient():
    q = torch.randn(5, 4, requires_grad=True)
    sat = action_reasoner_sat(torch.zeros(5, 4), q)
    assert float(sat.detach()) == 1.0
    (1.0 - sat).backward()
    assert torch.equal(q.grad, torch.zeros_like(q))
    empty = torch.zeros(0, 4, requires_grad=True)
    assert float(action_reasoner_sat(torch.zeros(0, 4), empty).detach()) == 1.0


def test_loss_gradient_reaches_q_values_only():
    r = torch.tensor([[1.0, 0.0, -1.0, 0.0]], requires_grad=True)
    q = torch.zeros(1, 4, requires_grad=True)
    loss = action_reasoner_loss(r, q)
    loss.backward()
    assert r.grad is None  # rewards enter only the guard
    assert q.grad[0, 0] < 0 and q.grad[0, 2] > 0  # descent raises q(best) and lowers q(worst)
    assert q.grad.dtype == q.dtype and torch.isfinite(q.grad).all()
    assert loss.dtype == q.dtype


def test_descent_on_a4_orders_q_values():
    r = torch.tensor([[1.0, 0.0, -1.0, 0.0]])
    q = torch.tensor([[-1.0, 0.0, 1.0, 0.0]], requires_grad=True)
    for _ in range(50):
        (grad,) = torch.autograd.grad(action_reasoner_loss(r, q), q)
        q = (q - grad).detach().requires_grad_()
    assert q[0, 0] > q[0, 1] > q[0, 2]


@pytest.mark.parametrize("margin", [0.0, 0.5])  # the paper's guard, the reference code's
@pytest.mark.parametrize("case", ["random", "no_guarded_pair", "empty_batch", "one_state"])
def test_fast_path_equals_the_ltn_formula_api_in_value_and_gradient(case, margin):
    torch.manual_seed(3)
    r, q = torch.randn(16, 4), torch.randn(16, 4)
    if case == "no_guarded_pair":
        r = torch.zeros(16, 4)
    elif case == "empty_batch":
        r, q = r[:0], q[:0]
    elif case == "one_state":
        r, q = r[:1], q[:1]
    q.requires_grad_(True)
    fast, ref = action_reasoner_sat(r, q, margin=margin), action_reasoner_sat_formulas(r, q, margin=margin)
    assert fast.dtype == ref.dtype == q.dtype
    assert torch.allclose(fast, ref, atol=1e-6)
    (g_fast,) = torch.autograd.grad(fast, q, allow_unused=True, materialize_grads=True)
    (g_ref,) = torch.autograd.grad(ref, q, allow_unused=True, materialize_grads=True)
    assert torch.isfinite(g_fast).all()
    assert torch.allclose(g_fast, g_ref, atol=1e-6)


def test_non_finite_q_values_are_not_reported_as_satisfied():
    r = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    q = torch.tensor([[float("nan"), 0.0, 0.0, 0.0]])
    assert torch.isnan(action_reasoner_sat(r, q))
