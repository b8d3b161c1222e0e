"""The conditions of INSIGHT's ablation (Luo et al., ICML 2024, "Ablation study"), as flags.

| condition          | EQL actor | acts in training | neural guidance | perception            |
|--------------------|-----------|------------------|-----------------|-----------------------|
| `INSIGHT`          | yes       | neural actor     | yes             | pre-trained, refined  |
| `w/o NG`           | yes       | EQL (PPO loss)   | no              | pre-trained, refined  |
| `fixed perception` | yes       | neural actor     | yes             | pre-trained, frozen   |
| `w/o pretrain`     | yes       | neural actor     | yes             | from scratch, refined |
| `neural PPO`       | no        | neural actor     | no              | none (a plain CNN)    |

"Refined" means the 2 × perception loss on dataset batches during policy learning (and, with guidance,
the gradient of the guidance loss through the coordinates). `w/o pretrain` keeps that loss: only the
pre-training phase is skipped. `neural PPO` is PPO with the same encoder and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    """What one ablation condition switches on."""

    eql: bool  # an EQL actor exists
    policy: str  # which actor PPO trains and samples from in training: "neural" | "eql"
    guidance: bool  # cross-entropy from the EQL logits to the neural actor's argmax
    pretrain: bool  # perception starts from the pre-trained weights
    freeze_perception: bool  # encoder and perception heads are not trained
    perception_heads: bool  # the module has perception heads (and the learner a perception loss)


CONDITIONS: dict[str, Condition] = {
    "INSIGHT": Condition(True, "neural", True, True, False, True),
    "w/o NG": Condition(True, "eql", False, True, False, True),
    "fixed perception": Condition(True, "neural", True, True, True, True),
    "w/o pretrain": Condition(True, "neural", True, False, False, True),
    "neural PPO": Condition(False, "neural", False, False, False, False),
}


def slug(condition: str) -> str:
    """File-system name of a condition: 'w/o NG' → 'wo-NG', 'fixed perception' → 'fixed-perception'."""
    return condition.replace("w/o", "wo").replace(" ", "-").replace("/", "-")
