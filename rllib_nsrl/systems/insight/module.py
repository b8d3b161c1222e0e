"""The INSIGHT RLModule (new API stack): one encoder, perception heads, a neural actor-critic, an EQL actor.

    frames uint8 [B, 4, 84, 84] ─ encoder (Nature DQN + LayerNorm) ─ features [B, 512]
        ├─ perception heads → objects [B, S, 4, 5] (existence logit, x, y, w, h per slot and frame)
        │      └─ eql_inputs (x, y; zeroed where existence ≤ 0.5, clamped to [0, 1]) → EQL actor → logits
        ├─ neural actor Linear(512 → A) → logits
        └─ critic Linear(512 → 1) (`ValueFunctionAPI`)

`model_config` (all keys from `insight_model_config`): the condition's switches (`eql`, `policy`,
`perception_heads`, `freeze_perception`, `eql_acts_in_training`), sizes (`num_slots`, `feature_dim`,
`eql_layers`, `eql_widths`, `inverse_temperature`) and `perception_weights` (a state-dict file of the
pre-trained `Perception`, loaded in `setup`; None: random).

Which actor gives `Columns.ACTION_DIST_INPUTS`: in `forward_train`, the actor PPO trains (`policy`);
in exploration, the EQL actor when `eql_acts_in_training`, else the same; in inference, the `policy`
actor (`act_with`, see below, picks another for evaluation). Parts a condition does not use are not
built, so every parameter gets a gradient on every minibatch (RLlib's optimizer step needs one).
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.utils.annotations import override
from torch import nn

from rllib_nsrl.symbolic.eql import EQLActor, eql_inputs
from rllib_nsrl.systems.insight.perception import Perception

EQL_LOGITS = "eql_logits"
NEURAL_LOGITS = "neural_logits"
OBJECTS = "objects"


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class InsightModule(TorchRLModule, ValueFunctionAPI):
    """Perception, neural actor-critic and EQL actor on one encoder (see the module docstring)."""

    @override(RLModule)
    def setup(self) -> None:
        c = self.model_config
        self.num_actions = int(self.action_space.n)
        frames, size = self.observation_space.shape[0], self.observation_space.shape[-1]
        self.use_eql, self.policy = bool(c["eql"]), c["policy"]
        if self.policy == "eql" and not self.use_eql:
            raise ValueError("InsightModule: policy 'eql' needs eql=True")
        if self.use_eql and not c["perception_heads"]:
            raise ValueError(
                "InsightModule: the EQL actor reads the perception heads (perception_heads=True)"
            )
        self.explore_with = "eql" if c.get("eql_acts_in_training") and self.use_eql else self.policy
        self.perception = Perception(c["num_slots"], frames, size, c["feature_dim"])
        if c.get("perception_weights"):
            state = torch.load(c["perception_weights"], map_location="cpu", weights_only=True)
            self.perception.load_state_dict(state)
        if not c["perception_heads"]:
            self.perception.heads = None
        self.freeze_perception = bool(c.get("freeze_perception"))
        if self.freeze_perception:
            self.perception.requires_grad_(False)
        needs_neural = self.policy == "neural"
        self.pi = _init(nn.Linear(c["feature_dim"], self.num_actions), 0.01) if needs_neural else None
        self.vf = _init(nn.Linear(c["feature_dim"], 1), 1.0)
        self.eql = (
            EQLActor(
                self.perception.num_slots * frames * 2,
                self.num_actions,
                widths=c["eql_widths"],
                num_layers=c["eql_layers"],
                inverse_temperature=c["inverse_temperature"],
            )
            if self.use_eql
            else None
        )

    # ------------------------------------------------------------------ pieces (also used by evaluation)
    def features(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 frames [B, F, H, W] → encoder features [B, feature_dim]."""
        return self.perception.features(obs)

    def objects(self, features: torch.Tensor) -> torch.Tensor:
        """Features → predicted objects [B, S, F, 5] (existence logit, x, y, w, h)."""
        return self.perception.objects(features)

    def eql_logits(self, objects: torch.Tensor) -> torch.Tensor:
        """Predicted objects → EQL action logits [B, A]."""
        return self.eql(eql_inputs(objects[..., 1:3], objects[..., 0]))

    def neural_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Features → the neural actor's logits [B, A]."""
        return self.pi(features)

    def logits(self, obs: torch.Tensor, actor: str) -> torch.Tensor:
        """Action logits of `actor` ("neural" | "eql") for observations `obs`."""
        features = self.features(obs)
        if actor == "eql":
            return self.eql_logits(self.objects(features))
        return self.neural_logits(features)

    # ------------------------------------------------------------------ RLModule API
    @override(RLModule)
    def _forward_inference(self, batch: dict, **kwargs) -> dict:
        return {Columns.ACTION_DIST_INPUTS: self.logits(batch[Columns.OBS], self.policy)}

    @override(RLModule)
    def _forward_exploration(self, batch: dict, **kwargs) -> dict:
        return {Columns.ACTION_DIST_INPUTS: self.logits(batch[Columns.OBS], self.explore_with)}

    @override(RLModule)
    def _forward_train(self, batch: dict, **kwargs) -> dict:
        features = self.features(batch[Columns.OBS])
        out: dict[str, Any] = {Columns.EMBEDDINGS: features}
        if self.use_eql:
            objects = self.objects(features)
            out[OBJECTS] = objects
            out[EQL_LOGITS] = self.eql_logits(objects)
        if self.pi is not None:
            out[NEURAL_LOGITS] = self.neural_logits(features)
        out[Columns.ACTION_DIST_INPUTS] = out[EQL_LOGITS] if self.policy == "eql" else out[NEURAL_LOGITS]
        return out

    @override(ValueFunctionAPI)
    def compute_values(self, batch: dict[str, Any], embeddings: Any | None = None) -> torch.Tensor:
        if embeddings is None:
            embeddings = self.features(batch[Columns.OBS])
        return self.vf(embeddings).squeeze(-1)


def insight_model_config(spec: dict, condition, num_slots: int, perception_weights: str | None) -> dict:
    """The module's `model_config` for one condition (a `Condition`) of a validated spec."""
    m = spec["model"]
    return {
        "num_slots": num_slots,
        "feature_dim": m["feature_dim"],
        "eql_layers": m["eql_layers"],
        "eql_widths": dict(m["eql_widths"]),
        "inverse_temperature": m["inverse_temperature"],
        "eql": condition.eql,
        "policy": condition.policy,
        "perception_heads": condition.perception_heads,
        "freeze_perception": condition.freeze_perception,
        "eql_acts_in_training": spec["insight"]["eql_acts_in_training"],
        "perception_weights": perception_weights if condition.pretrain else None,
    }
