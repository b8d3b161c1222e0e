"""ActionFilter as an env-to-module ConnectorV2 writing `action_mask` into the observation.

One masking mechanism for the whole package: the Q-module masks every action whose bit in
``obs["action_mask"]`` is 0 (with −inf, inside its Q computation). Masks come from the env
(valid actions, e.g. BlocksWorld) or from this connector, which asks the RLModule for its
symbolic filter (SymDQN: predicted immediate reward more than a threshold below the best).
Used on evaluation env runners only (the paper filters at evaluation, not in training).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.utils.annotations import override

from rllib_nsrl.constants import ACTION_MASK, OBS


class ActionMaskConnector(ConnectorV2):
    """Wraps each newest observation as ``{"observations": obs, "action_mask": int8 [n]}``.

    The mask is ``rl_module.action_filter_mask(obs_batch)`` (a bool tensor ``[B, n]``, or None
    for "all valid"), intersected with an env-provided mask when there is one, and never empty.
    """

    @override(ConnectorV2)
    def recompute_output_observation_space(self, input_observation_space, input_action_space) -> gym.Space:
        base = input_observation_space
        if isinstance(base, gym.spaces.Dict) and OBS in base.spaces:
            base = base[OBS]
        return gym.spaces.Dict(
            {OBS: base, ACTION_MASK: gym.spaces.Box(0, 1, (input_action_space.n,), np.int8)}
        )

    @override(ConnectorV2)
    def __call__(
        self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None, **kwargs
    ):
        eps = list(self.single_agent_episode_iterator(episodes))
        if not eps:
            return batch
        n = self.input_action_space.n
        raw = [e.get_observations(-1) for e in eps]
        obs = np.stack([r[OBS] if isinstance(r, dict) else r for r in raw])
        env_masks = np.stack(
            [
                np.asarray(r[ACTION_MASK]) if isinstance(r, dict) and ACTION_MASK in r else np.ones(n)
                for r in raw
            ]
        ).astype(bool)
        masks = env_masks
        filter_fn = getattr(rl_module, "action_filter_mask", None)
        if filter_fn is not None:
            with torch.no_grad():
                device = next(rl_module.parameters()).device
                sym = filter_fn(torch.as_tensor(obs, device=device))
            if sym is not None:
                combined = env_masks & sym.cpu().numpy().astype(bool)
                # never empty: fall back to the env mask where the filter removed every valid action
                masks = np.where(combined.any(axis=1, keepdims=True), combined, env_masks)
        for e, o, m in zip(eps, obs, masks, strict=True):
            e.set_observations(at_indices=-1, new_data={OBS: o, ACTION_MASK: m.astype(np.int8)})
            e.observation_space = self.observation_space
        return batch


def make_action_filter_connector(env=None, spaces=None, device=None) -> ActionMaskConnector:
    """Factory for `AlgorithmConfig.env_runners(env_to_module_connector=...)` / `_env_to_module_connector`."""
    return ActionMaskConnector()
