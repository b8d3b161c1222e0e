"""Readable equations from a trained EQL actor (`rllib_nsrl.symbolic.eql.EQLActor`), built sparsely.

Weights and biases with |w| < `threshold` are pruned (INSIGHT: 1e-2; 1e-1 "for a general explanation").
Each unit's expression is built from its surviving weights only, so an actor with thousands of inputs
and few surviving weights gives short expressions quickly (expanding the dense network symbolically
would take minutes and print hundreds of thousands of characters). The logit of each action, including
the inverse temperature, is then expanded into a sum of monomials; `summarise` keeps the K largest by
|coefficient × monomial at typical inputs| and sums the rest as "other".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from rllib_nsrl.symbolic.eql import BINARY, UNARY


def _pruned(w: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(np.abs(w) >= threshold, w, 0.0)


def _linear(weights: np.ndarray, bias: float, inputs: Sequence[sympy.Expr]) -> sympy.Expr:
    terms = [sympy.Float(float(w)) * x for w, x in zip(weights, inputs, strict=True) if w != 0.0]
    if bias != 0.0:
        terms.append(sympy.Float(float(bias)))
    return sympy.Add(*terms) if terms else sympy.Integer(0)


def logit_expressions(eql, variable_names: Sequence[str], threshold: float = 1e-2) -> list[sympy.Expr]:
    """One expanded sympy expression per action logit of `eql` (an `EQLActor`), pruned at `threshold`."""
    inputs: list[sympy.Expr] = list(sympy.symbols(list(variable_names), real=True))
    for layer in eql.layers:
        w = _pruned(layer.linear.weight.detach().cpu().double().numpy(), threshold)
        b = _pruned(layer.linear.bias.detach().cpu().double().numpy(), threshold)
        g = [_linear(w[j], b[j], inputs) for j in range(w.shape[0])]
        n_unary = layer.n_unary
        out: list[sympy.Expr] = []
        col = 0
        for name in UNARY:
            for _ in range(layer.widths[name]):
                e = g[col]
                out.append({"square": e**2, "cube": e**3, "constant": sympy.Integer(1), "identity": e}[name])
                col += 1
        pair = n_unary
        for name in BINARY:
            for _ in range(layer.widths[name]):
                a, c = g[pair], g[pair + 1]
                out.append(a * c if name == "product" else a + c)
                pair += 2
        inputs = out
    w = _pruned(eql.out.weight.detach().cpu().double().numpy(), threshold)
    b = _pruned(eql.out.bias.detach().cpu().double().numpy(), threshold)
    scale = sympy.Float(eql.inverse_temperature)
    return [sympy.expand(scale * _linear(w[a], b[a], inputs)) for a in range(w.shape[0])]


@dataclass
class Term:
    """One monomial of a logit: its coefficient, its monomial (1 for the constant), and its typical size."""

    coefficient: float
    monomial: sympy.Expr
    typical: float  # |coefficient × monomial at the typical inputs|


def terms_of(expr: sympy.Expr, typical_values: dict[str, float]) -> list[Term]:
    """The monomials of an expanded expression, largest typical contribution first."""
    subs = {sympy.Symbol(k, real=True): v for k, v in typical_values.items()}
    out = []
    for monomial, coefficient in expr.as_coefficients_dict().items():
        value = float(monomial.subs(subs)) if monomial.free_symbols else 1.0
        out.append(Term(float(coefficient), monomial, abs(float(coefficient) * value)))
    return sorted(out, key=lambda t: (-t.typical, str(t.monomial)))


def _round(x: float, digits: int = 2) -> sympy.Float:
    return sympy.Float(float(f"{x:.{digits}g}"))


def summarise(
    expr: sympy.Expr, typical_values: dict[str, float], max_terms: int = 6
) -> tuple[sympy.Expr, int]:
    """(the `max_terms` largest terms with 2-significant-digit constants, number of terms left out).

    The terms left out are summed as one symbol `other` (their exact sum is in the full expression)."""
    terms = terms_of(expr, typical_values)
    kept = terms[:max_terms]
    shown = sympy.Add(*[_round(t.coefficient) * t.monomial for t in kept]) if kept else sympy.Integer(0)
    rest = len(terms) - len(kept)
    if rest:
        shown = shown + sympy.Symbol("other")
    return shown, rest


def plain(expr: sympy.Expr) -> str:
    """Plain-text form (`sympy.sstr`)."""
    return sympy.sstr(expr)


def latex(expr: sympy.Expr) -> str:
    """LaTeX form."""
    return sympy.latex(expr)


def typical_inputs(samples: np.ndarray, variable_names: Sequence[str]) -> dict[str, float]:
    """Mean |value| of each input over `samples` [N, D]: the 'typical input' of the term ranking."""
    return dict(zip(variable_names, np.abs(samples).mean(0).astype(float).tolist(), strict=True))
