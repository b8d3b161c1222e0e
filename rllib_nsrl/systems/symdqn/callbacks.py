"""Per-episode SymDQN metrics (score, negative ratio) logged through RLlib's MetricsLogger."""

from __future__ import annotations

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.utils.annotations import override

from rllib_nsrl.constants import NEGATIVE_RATIO, SCORE
from rllib_nsrl.envs.shapes_grid import episode_metrics


class ShapesMetricsCallback(RLlibCallback):
    """Logs `score` and `negative_ratio` of every finished ShapesGridEnv episode.

    The last `info` carries cumulative counts, so the final chunk of an episode suffices.
    Reported as the mean over the episodes of one iteration (training or evaluation epoch).
    """

    @override(RLlibCallback)
    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        info = episode.get_infos(-1)
        if metrics_logger is None or not info or "max_return" not in info:
            return
        score, neg_ratio = episode_metrics(info)
        metrics_logger.log_value(SCORE, score, reduce="mean", window=None)
        metrics_logger.log_value(NEGATIVE_RATIO, neg_ratio, reduce="mean", window=None)
