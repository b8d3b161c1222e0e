"""Single-piece env-to-module and module-to-env connectors for the SymDQN lean loop's training env runner.

RLlib's default pipelines do the same work for a stateless single-agent Q-module in about twelve pieces
per env step (observations from the episodes, batching, numpy → torch; actions, torch → numpy, unbatching,
clipping, listifying), and time each piece in the runner's metrics: ≈ 0.7 ms per env step here, more than
the env step itself. These two do it in one piece each, for one or more envs of a `Discrete` action
space and array (or dict-of-array) observations:

* `LatestObservationBatch`: the newest observation of every ongoing episode, stacked into one torch batch
  under `obs` (env order), on the module's device (the lean loop's runner acts with the learner's module);
* `ActionsToNumpy`: every tensor of the module's output as a numpy array (`actions` included), which is
  what the runner sends to the vector env and stores in the episodes.

The evaluation runners keep RLlib's default pipelines (with the ActionFilter connector).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import tree
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns
from ray.rllib.utils.annotations import override


class LatestObservationBatch(ConnectorV2):
    """Env-to-module: `{"obs": torch batch of the newest observation of each episode}`."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, episodes, batch: dict[str, Any] | None = None, **kwargs):
        batch = {} if batch is None else batch  # the runner's reset path passes none
        device = next(rl_module.parameters()).device  # the learner's module: CPU, or its GPU
        latest = [episode.get_observations(-1) for episode in episodes]
        batch[Columns.OBS] = tree.map_structure(
            lambda *xs: torch.from_numpy(np.stack(xs)).to(device), *latest
        )
        return batch


class ActionsToNumpy(ConnectorV2):
    """Module-to-env: the module's output tensors as numpy arrays (one row per env)."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, **kwargs):
        def to_numpy(x):
            return x.detach().cpu().numpy() if torch.is_tensor(x) else x

        return {k: tree.map_structure(to_numpy, v) for k, v in batch.items()}
