"""ActionReasoner: axiom A4, Q-values must order like the predicted rewards (SymDQN §3.2), in LTNtorch.

    A4  ∀ Diag((r1, q1), (r2, q2)) : (r1 > r2 + margin)  MoreThan(q1, q2)

The individuals are all ordered pairs of distinct actions (a1, a2) of every state, flattened over the
batch: r1, q1 belong to a1 and r2, q2 to a2. `ltn.diag` ties the four variables to that one pair
index (no cross product), and the guard is LTN guarded quantification (`cond_vars`/`cond_fn`), not an
implication, so pairs outside the guard do not dilute the ∀ (the paper's argument). Reference code:
MoreThan(x, y) = sigmoid(2 (x − y)); ∀ = p-mean error, p = 8.

The paper's guard is r1 > r2 (margin 0, the default); the reference code's is r1 > r2 + 0.5
(`symbolic.reasoner_margin: 0.5`), which keeps pairs whose predicted rewards differ by noise only out
of the ∀.

`action_reasoner_sat_formulas` writes A4 with LTNtorch's formula API (`diag`, guarded `Quantifier`);
`action_reasoner_sat` (used in training) calls the same ∀ operator with the guard as its mask on the
paired groundings, which is what `diag` and `cond_fn` reduce to, without the formula API's per-call
copies and range checks (≈ 1.1 → 0.5 ms per update; the tests check that values and gradients agree).
"""

from __future__ import annotations

import ltn
import torch

from rllib_nsrl.symbolic.shape_axioms import FORALL, Forall, variable

STEEPNESS = 2.0  # MoreThan(x, y) = sigmoid(STEEPNESS · (x − y)), reference code


def more_than(steepness: float = STEEPNESS) -> ltn.Predicate:
    """Fuzzy x > y as an LTN predicate: sigmoid(steepness · (x − y)) (reference code: steepness 2)."""
    return ltn.Predicate(func=lambda x, y: torch.sigmoid(steepness * (x - y)))


MoreThan = more_than()


def action_pairs(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All ordered pairs of distinct actions per state: [B, A] → (first, second), each [B·A·(A−1)]."""
    num_actions = values.shape[-1]
    a1, a2 = torch.meshgrid(
        torch.arange(num_actions, device=values.device),
        torch.arange(num_actions, device=values.device),
        indexing="ij",
    )
    distinct = a1 != a2
    return values[:, a1[distinct]].reshape(-1), values[:, a2[distinct]].reshape(-1)


def action_reasoner_sat(
    pred_rewards: torch.Tensor,
    q_values: torch.Tensor,
    margin: float = 0.0,
    p: float = 8,
    steepness: float = STEEPNESS,
) -> torch.Tensor:
    """Satisfaction of A4 (0-d tensor, q_values' dtype): `action_reasoner_sat_formulas`, evaluated fast.

    The guarded ∀ is LTNtorch's p-mean-error aggregator with the guard as its mask; with no pair in
    the guard it is vacuously 1.0 (the `Quantifier` replaces that 0/0 too). Unlike the `Quantifier`,
    a NaN from non-finite Q-values stays NaN, so it shows in the loss and the logged metric.
    """
    r_first, r_second = action_pairs(pred_rewards.detach())
    q_first, q_second = action_pairs(q_values)
    truth = torch.sigmoid(steepness * (q_first - q_second))
    guard = r_first > r_second + margin
    sat = FORALL(truth, dim=(0,), mask=guard, p=p)
    return torch.where(guard.any(), sat, 1.0).to(q_values.dtype)


def action_reasoner_sat_formulas(
    pred_rewards: torch.Tensor,
    q_values: torch.Tensor,
    margin: float = 0.0,
    p: float = 8,
    predicate: ltn.Predicate = MoreThan,
) -> torch.Tensor:
    """Satisfaction of A4 with LTNtorch's formula API, the reference for `action_reasoner_sat`
    (0-d tensor, q_values' dtype); the ActionReasoner loss is 1 − sat.

    pred_rewards: [B, A] RewardPredictor outputs, **detached** here: they enter only the guard, a hard
    mask with no gradient anyway, so A4 trains the Q-network alone (as in the paper), never the reward
    model. q_values: [B, A]; gradient flows into them through MoreThan.
    With no pair inside the guard (or B = 0), A4 is vacuously true: LTNtorch's guarded quantifier
    replaces its 0/0 aggregate by 1.0 for ∀, and its masked `torch.where` gives the Q-values exactly
    zero gradient (tested), so no check of our own is needed. (Non-finite Q-values make LTNtorch's
    range check raise a ValueError.)
    """
    r_first, r_second = action_pairs(pred_rewards.detach())
    q_first, q_second = action_pairs(q_values)
    r1, r2 = variable("r1", r_first), variable("r2", r_second)
    q1, q2 = variable("q1", q_first), variable("q2", q_second)
    sat = Forall(
        ltn.diag(r1, q1, r2, q2),
        predicate(q1, q2),
        cond_vars=[r1, r2],
        cond_fn=lambda r1, r2: r1.value > r2.value + margin,
        p=p,
    )
    return sat.value.to(q_values.dtype)


def action_reasoner_loss(pred_rewards: torch.Tensor, q_values: torch.Tensor, **kwargs) -> torch.Tensor:
    """1 − A4 satisfaction; see `action_reasoner_sat` for arguments."""
    return 1.0 - action_reasoner_sat(pred_rewards, q_values, **kwargs)
