"""NLM actor-critic RLModule for relational BlocksWorld (Neuro-Logic Lifelong Learning,
docs/systems/blocksworld.md#model-nlm-actor-critic).


Observation: a flat row of ``envs/blocksworld/layout.py`` (``[B, 4n² + 6n + 2]``, any n: the NLM is
lifted). It is read as NLM predicate groups, state and goal side by side on channels::

    arity 0: [B, 2]        HandEmpty, HandFull
    arity 1: [B, n, 4]     OnTable, Clear, Holding ‖ goal OnTable
    arity 2: [B, n, n, 2]  On ‖ goal On

Model (paper: KB ``[[4,4,4,4]] × depth``, task module ``[[8,8,8,8]]``):

* ``kb``: ``symbolic.nlm.KnowledgeBase`` — the part carried from task to task. Breadth defaults to 2
  (``kb_channels = [4, 4, 4]``): every BlocksWorld predicate and action has arity ≤ 2, so ternary predicates
  could only enter through a ∃/∀ reduction; ``[4, 4, 4, 4]`` (the paper's breadth 3) also works.
* ``pi_head`` / ``q_head``: one ``ActionHead`` each (one NLM layer + read-outs), fresh for every task.
  PickUp(X)/PutDown(X) come from two unary output channels, Stack(X, Y)/Unstack(X, Y) from two binary ones,
  concatenated in the env's action order → ``[B, 2n² + 2n]``.
* actor logits ``= logit_scale · tanh(z) / temperature`` (paper: tanh before the logits, temperature 1.5;
  ``logit_scale`` is ours — with 1 the best of five valid actions could get at most ≈ 3.8× the mass of the
  worst), masked to −inf where ``action_mask == 0``: a masked action has probability exactly 0.
* critic ``QF_PREDS``: Q(s, a) for every action, −inf where masked.

The actor head reads the KB outputs detached unless ``actor_trains_kb``: the KB is then shaped by the
critic's TD loss alone. Letting the (much larger) actor gradients into the shared KB moved the critic's
features under it — in runs here its greedy policy on task 0 fell from 100 % to 55–70 % success after
~1 000 updates, and stayed at 100 % with the KB detached from the actor.

Target copies of all three parts (``TargetNetworkAPI``) are Polyak-averaged by the learner.
``model_config``: ``kb_depth``, ``kb_channels``, ``head_channels``, ``temperature``, ``logit_scale``,
``exclude_self``, ``actor_trains_kb``, ``kb_seed``, ``head_seed`` (initial weights; seeds keep runs
deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_PREDS
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import TargetNetworkAPI
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.utils.annotations import override
from torch import nn

from rllib_nsrl.constants import ACTION_MASK
from rllib_nsrl.envs.blocksworld.encoding import BINARY, GOAL_BINARY, GOAL_UNARY, NULLARY, UNARY
from rllib_nsrl.envs.blocksworld.layout import unflatten
from rllib_nsrl.symbolic.nlm import KnowledgeBase, NLMLayer, Predicates

IN_CHANNELS = (2, 4, 2)  # nullary, unary ‖ goal unary, binary ‖ goal binary
DEFAULTS: dict[str, Any] = {
    "kb_depth": 4,
    "kb_channels": [4, 4, 4],
    "head_channels": [8, 8, 8],
    "temperature": 1.5,
    "logit_scale": 5.0,
    "exclude_self": True,
    "actor_trains_kb": False,
    "kb_seed": 0,
    "head_seed": 1,
}


def nlm_inputs(obs: torch.Tensor) -> tuple[Predicates, torch.Tensor]:
    """Flat rows ``[B, D]`` → (NLM predicate groups of arity 0..2, action mask ``[B, 2n² + 2n]``)."""
    p = unflatten(obs)
    unary = torch.cat([p[UNARY], p[GOAL_UNARY]], dim=-1)
    binary = torch.cat([p[BINARY], p[GOAL_BINARY]], dim=-1)
    return [p[NULLARY], unary, binary], p[ACTION_MASK]


class ActionHead(nn.Module):
    """Task module: one NLM layer over all KB predicates → one score per ground action ``[B, 2n² + 2n]``.

    It makes no nullary (or ternary) predicates: no action reads them, so their weights would never train.
    """

    def __init__(self, in_channels: Sequence[int], hidden_channels: Sequence[int], exclude_self: bool = True):
        super().__init__()
        hidden = [0] + [int(c) for c in hidden_channels[1:3]] + [0] * (len(in_channels) - 3)
        self.layer = NLMLayer(in_channels, hidden, exclude_self=exclude_self)
        self.unary = nn.Linear(self.layer.out_channels[1], 2)  # PickUp, PutDown
        self.binary = nn.Linear(self.layer.out_channels[2], 2)  # Stack, Unstack

    def forward(self, kb_outputs: Predicates) -> torch.Tensor:
        """Scores ``[B, 2n² + 2n]`` in ``encoding.ground_actions`` order from KB outputs ``[B, n^r, C_r]``."""
        h = self.layer(kb_outputs)
        u, b = self.unary(h[1]), self.binary(h[2])  # [B, n, 2], [B, n, n, 2]
        flat = b.flatten(1, 2)  # [B, n², 2]: Stack(bi, bj) at i·n + j
        return torch.cat([u[..., 0], u[..., 1], flat[..., 0], flat[..., 1]], dim=-1)


class NLMActorCritic(TorchRLModule, TargetNetworkAPI):
    """NLM knowledge base + actor and critic task heads over BlocksWorld ground actions."""

    @override(RLModule)
    def setup(self):
        cfg = {**DEFAULTS, **(self.model_config or {})}
        self.temperature, self.logit_scale = float(cfg["temperature"]), float(cfg["logit_scale"])
        self.actor_trains_kb = bool(cfg["actor_trains_kb"])
        kb_channels = [int(c) for c in cfg["kb_channels"]]
        if len(kb_channels) < 3 or len(cfg["head_channels"]) < 3:
            raise ValueError("kb_channels and head_channels need entries for arities 0, 1 and 2 at least")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(cfg["kb_seed"]))
            self.kb = KnowledgeBase(
                list(IN_CHANNELS), [kb_channels] * int(cfg["kb_depth"]), exclude_self=cfg["exclude_self"]
            )
            torch.manual_seed(int(cfg["head_seed"]))
            self.pi_head = ActionHead(self.kb.out_channels, cfg["head_channels"], cfg["exclude_self"])
            self.q_head = ActionHead(self.kb.out_channels, cfg["head_channels"], cfg["exclude_self"])

    def _outputs(self, obs: torch.Tensor, kb: nn.Module, pi_head: nn.Module, q_head: nn.Module | None):
        preds, mask = nlm_inputs(obs)
        features = kb(preds)
        invalid = mask == 0
        # −inf, not FLOAT_MIN: a masked action must have probability exactly 0 and never be chosen.
        actor_in = features if self.actor_trains_kb else [None if f is None else f.detach() for f in features]
        logits = (self.logit_scale * torch.tanh(pi_head(actor_in)) / self.temperature).masked_fill(
            invalid, float("-inf")
        )
        out = {Columns.ACTION_DIST_INPUTS: logits}
        if q_head is not None:
            out[QF_PREDS] = q_head(features).masked_fill(invalid, float("-inf"))
        return out

    @override(TorchRLModule)
    def _forward_inference(self, batch: dict, **kwargs) -> dict:
        with torch.no_grad():
            return self._outputs(batch[Columns.OBS], self.kb, self.pi_head, None)

    @override(TorchRLModule)
    def _forward_exploration(self, batch: dict, **kwargs) -> dict:
        return self._forward_inference(batch)

    @override(TorchRLModule)
    def _forward_train(self, batch: dict, **kwargs) -> dict:
        return self._outputs(batch[Columns.OBS], self.kb, self.pi_head, self.q_head)

    def greedy_actions(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B]`` most probable valid action of each row (evaluation)."""
        return self.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS].argmax(dim=-1)

    # ---------------------------------------------------------------- target networks
    @override(TargetNetworkAPI)
    def make_target_networks(self) -> None:
        self._target_kb = make_target_network(self.kb)
        self._target_pi_head = make_target_network(self.pi_head)
        self._target_q_head = make_target_network(self.q_head)

    @override(TargetNetworkAPI)
    def get_target_network_pairs(self):
        return [
            (self.kb, self._target_kb),
            (self.pi_head, self._target_pi_head),
            (self.q_head, self._target_q_head),
        ]

    @override(TargetNetworkAPI)
    def forward_target(self, batch: dict) -> dict:
        with torch.no_grad():
            obs = batch[Columns.OBS]
            return self._outputs(obs, self._target_kb, self._target_pi_head, self._target_q_head)

    # ---------------------------------------------------------------- lifelong transfer
    def load_knowledge_base(self, state: dict[str, torch.Tensor]) -> None:
        """Start from a carried KB: load ``state`` into the KB and, if built, its target copy."""
        self.kb.load_state_dict(state)
        if hasattr(self, "_target_kb"):
            self._target_kb.load_state_dict(state)
