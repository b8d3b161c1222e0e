"""Axioms A1–A3 of the ShapeRecognizer in Product Real Logic, evaluated with LTNtorch (SymDQN §3.2).

    A1  ∀s ∃l IS(s, l)                                   every shape has a label
    A2  ¬∃s, l1, l2 (IS(s, l1) ∧ IS(s, l2) ∧ l1 ≠ l2)     no shape has two labels
    A3  ∀s1, s2, l ((IS(s1, l) ∧ s1 ≠ s2) → ¬IS(s2, l))   different shapes have different labels

Semantics (Badreddine et al. 2022, App. B, as in the paper): ∧ = product t-norm, ¬ = standard negation,
→ = Reichenbach, ∃ = p-mean, ∀ = p-mean error, p = 8; loss = 1 − SatAgg(A1, A2, A3).

Grounding. `s` ranges over the *unique* patches (`patches.UniquePatchSet`), grounded by their indices,
so `s1 ≠ s2` means "two different unique patches"; `l` ranges over the five one-hot label constants
(the paper's `shape_types` variable). IS(s, l) is not an `ltn.Predicate` around the CNN: the CNN runs
once on all patches and its truth matrix [N, 5] *is* the grounding of IS with free variables (s, l),
wrapped as `ltn.LTNObject(truths, [s, l])` — exactly what `ltn.Predicate` would return, without a
second CNN pass per formula or its per-call range check. ≠ is an `ltn.Predicate` over the variables.

A2's label inequality `l1 ≠ l2` has two groundings (`a2_inequality`):
- "exact" (default, the paper's logic): 1 for two different labels, 0 for the same label.
- "reference" (the reference code): ¬Eq with Eq(x, y) = exp(−‖x − y‖), Euclidean distance. Two
  different one-hot labels are √2 apart, so they are "different" to degree c = 1 − exp(−√2) ≈ 0.757
  only. The ∃ p-mean is homogeneous, so A2's violation is scaled by c: A2_ref = 1 − c·(1 − A2_exact);
  a shape with two labels is punished less, and SatAgg is higher wherever A2 is violated.

Two evaluations of the same formulas, both with LTNtorch's operators:
- `shape_axioms_formulas` writes them with LTNtorch's formula API (`Connective`, `Quantifier`,
  `Variable`). It is the readable reference, and the tests check the fast path against it.
- `shape_axioms` (used in training) applies the same `ltn.fuzzy_ops` operator objects to the [N, L],
  [N, L, L] and [N, N, L] groundings, broadcast by hand. The formula API re-checks value ranges and
  clones and deep-copies its operands in every connective and quantifier: ≈ 2.4 ms per update against
  ≈ 0.5 ms here, for the same values and gradients (docs/speed.md, change F).
"""

from __future__ import annotations

import ltn
import torch

from rllib_nsrl.constants import SAT_A1, SAT_A2, SAT_A3, SAT_SHAPES

# Stateless LTN operators (Product Real Logic); p of the quantifiers is passed per call.
And = ltn.Connective(ltn.fuzzy_ops.AndProd())
Not = ltn.Connective(ltn.fuzzy_ops.NotStandard())
Implies = ltn.Connective(ltn.fuzzy_ops.ImpliesReichenbach())
Exists = ltn.Quantifier(ltn.fuzzy_ops.AggregPMean(p=8), quantifier="e")
Forall = ltn.Quantifier(ltn.fuzzy_ops.AggregPMeanError(p=8), quantifier="f")
SatAgg = ltn.fuzzy_ops.SatAgg()  # LTNtorch default: p-mean error, p = 2, over the closed formulas
# The operator objects inside the wrappers, for the fast path.
AND, NOT, IMPLIES = And.connective_op, Not.connective_op, Implies.connective_op
EXISTS, FORALL = Exists.agg_op, Forall.agg_op
# x ≠ y for individuals given as vectors (one-hot labels) or as [N, 1] indices.
NotEqual = ltn.Predicate(func=lambda x, y: (x != y).any(dim=-1).to(x.dtype))
# The reference code's x ≠ y: 1 − exp(−‖x − y‖) (¬ of its smooth equality).
NotEqualSmooth = ltn.Predicate(func=lambda x, y: 1.0 - torch.exp(-torch.linalg.vector_norm(x - y, dim=-1)))
A2_INEQUALITIES = {"exact": NotEqual, "reference": NotEqualSmooth}


def label_inequality(labels: torch.Tensor, a2_inequality: str = "exact") -> torch.Tensor:
    """Truth of `l1 ≠ l2` for every pair of label constants: labels [L, D] → [L, L] in [0, 1].

    "exact": 1 − [l1 = l2]; "reference": 1 − exp(−‖l1 − l2‖) (≈ 0.757 for two one-hot labels).
    """
    if a2_inequality == "exact":
        return (labels[:, None, :] != labels[None, :, :]).any(dim=-1).to(labels.dtype)
    if a2_inequality == "reference":
        return 1.0 - torch.exp(-torch.linalg.vector_norm(labels[:, None, :] - labels[None, :, :], dim=-1))
    raise ValueError(f"a2_inequality: unknown {a2_inequality!r}; valid: {', '.join(A2_INEQUALITIES)}")


def variable(label: str, values: torch.Tensor) -> ltn.Variable:
    """`ltn.Variable` whose individuals stay on `values.device`.

    `ltn.Variable` moves its tensor to the global `ltn.device`; this package never sets that global,
    so the value is put back on the device of the data it was built from.
    """
    var = ltn.Variable(label, values, add_batch_dim=values.dim() == 1)
    var.value = values.reshape(var.value.shape)
    return var


def vacuous_truth(like: torch.Tensor) -> torch.Tensor:
    """Exactly 1.0, attached to `like`'s graph with zero gradient (an empty sum, so never NaN)."""
    return 1.0 + like.reshape(-1)[:0].sum()


def shape_axioms(truths: torch.Tensor, p: float = 8, a2_inequality: str = "exact") -> dict[str, torch.Tensor]:
    """Satisfaction of A1, A2, A3 and their SatAgg on the label truths of N unique patches.

    Same values as `shape_axioms_formulas` (tested), with LTNtorch's operators applied directly to the
    groundings: dimension 0 is s (or s1), then s2, then the label variables, as the formula API orders them.
    `a2_inequality`: grounding of A2's `l1 ≠ l2`, "exact" or "reference" (module docstring).
    """
    n, num_labels = truths.shape
    if n == 0:
        one = vacuous_truth(truths)
        return {SAT_A1: one, SAT_A2: one, SAT_A3: one, SAT_SHAPES: one}
    labels = torch.eye(num_labels, dtype=truths.dtype, device=truths.device)
    label_ne = label_inequality(labels, a2_inequality)  # l1 ≠ l2, [L, L]
    a1 = FORALL(EXISTS(truths, dim=(1,), p=p), dim=(0,), p=p)
    a2 = NOT(EXISTS(AND(AND(truths[:, :, None], truths[:, None, :]), label_ne), dim=(0, 1, 2), p=p))
    if n > 1:
        shape_ne = 1.0 - torch.eye(n, dtype=truths.dtype, device=truths.device)  # s1 ≠ s2
        premise = AND(truths[:, None, :], shape_ne[:, :, None])  # [s1, s2, l]
        a3 = FORALL(IMPLIES(premise, NOT(truths[None, :, :])), dim=(0, 1, 2), p=p)
    else:
        a3 = vacuous_truth(truths)
    # SatAgg's own call only adds a range check of three numbers already in [0, 1].
    sat = SatAgg.agg_op(torch.stack([a1, a2, a3]), dim=0)
    return {SAT_A1: a1, SAT_A2: a2, SAT_A3: a3, SAT_SHAPES: sat}


def shape_axioms_formulas(
    truths: torch.Tensor, p: float = 8, a2_inequality: str = "exact"
) -> dict[str, torch.Tensor]:
    """A1–A3 written with LTNtorch's formula API: the reference that `shape_axioms` must equal.

    truths: [N, L] IS-truths in [0, 1] (ShapeRecognizer output on the unique patch set; L = 5).
    Returns scalars keyed `SAT_A1`, `SAT_A2`, `SAT_A3`, `SAT_SHAPES` (= SatAgg), differentiable w.r.t.
    `truths`. Quantifiers over no individuals are vacuously true (LTNtorch would give NaN, issue #4):
    N = 0 gives 1.0 everywhere, N = 1 gives A3 = 1.0 (there is no pair s1 ≠ s2).
    Cost: A3 grounds an [N, N, L] tensor (N = 512 → 1.3 M truths).
    `a2_inequality`: grounding of A2's `l1 ≠ l2`, "exact" or "reference" (module docstring).
    """
    if a2_inequality not in A2_INEQUALITIES:
        raise ValueError(f"a2_inequality: unknown {a2_inequality!r}; valid: {', '.join(A2_INEQUALITIES)}")
    label_ne = A2_INEQUALITIES[a2_inequality]
    n, num_labels = truths.shape
    one = vacuous_truth(truths)
    if n == 0:
        return {SAT_A1: one, SAT_A2: one, SAT_A3: one, SAT_SHAPES: one}

    def IS(s: str, l: str) -> ltn.LTNObject:  # noqa: N802 — the paper's predicate name
        # A fresh object per use: LTNtorch rewrites the free variables of the objects it processes.
        return ltn.LTNObject(truths, [s, l])

    labels = torch.eye(num_labels, dtype=truths.dtype, device=truths.device)
    shape_ids = torch.arange(n, dtype=truths.dtype, device=truths.device)
    s, l = variable("s", shape_ids), variable("l", labels)
    l1, l2 = variable("l1", labels), variable("l2", labels)

    a1 = Forall(s, Exists(l, IS("s", "l"), p=p), p=p)
    a2 = Not(Exists([s, l1, l2], And(And(IS("s", "l1"), IS("s", "l2")), label_ne(l1, l2)), p=p))
    if n > 1:
        s1, s2 = variable("s1", shape_ids), variable("s2", shape_ids)
        a3 = Forall([s1, s2, l], Implies(And(IS("s1", "l"), NotEqual(s1, s2)), Not(IS("s2", "l"))), p=p).value
    else:
        a3 = one
    sat = SatAgg(a1.value, a2.value, a3)
    return {SAT_A1: a1.value, SAT_A2: a2.value, SAT_A3: a3, SAT_SHAPES: sat}


def shape_axioms_loss(sats: dict[str, torch.Tensor]) -> torch.Tensor:
    """ShapeRecognizer loss of the paper: 1 − SatAgg(A1, A2, A3); 0 when there are no patches."""
    return 1.0 - sats[SAT_SHAPES]
