"""The one place that touches private (underscore) attributes of Ray objects.

RLlib and Tune keep some state we need only in private attributes. Every such access goes through a
function here, and `PRIVATE_ATTRIBUTES` lists each one, so a Ray upgrade that renames one fails a unit
test naming it (tests/unit/test_ray_private.py) instead of breaking a run. Prefer the public API
everywhere else (`learner.module[...]`, `get_parameters`, `foreach_module`, `metrics.log_value`).
"""

from __future__ import annotations

from typing import Any

# (importable owner, attribute): what the functions below read or write. Instance attributes set in
# `__init__`/`build` are checked on a built object by the unit test.
PRIVATE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("ray.rllib.core.learner.torch.torch_learner.TorchLearner", "_grad_scalers"),
    ("ray.rllib.core.learner.torch.torch_learner.TorchLearner", "_lr_scheduler_classes"),
    ("ray.rllib.core.learner.learner.Learner", "_params"),
    ("ray.rllib.core.learner.learner.Learner", "_module_optimizers"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_seed"),
    ("ray.tune.logger.csv.CSVLoggerCallback", "_trial_files"),
    ("ray.tune.logger.csv.CSVLoggerCallback", "_trial_csv"),
    ("ray.tune.logger.csv.CSVLoggerCallback", "_trial_continue"),
    ("ray.tune.logger.csv.CSVLoggerCallback", "_setup_trial"),
    ("ray.rllib.algorithms.algorithm_config.AlgorithmConfig", "_env_to_module_connector"),
    ("ray.rllib.core.learner.learner.Learner", "_create_iterator_if_necessary"),
    ("ray.rllib.utils.minibatch_utils.MiniBatchCyclicIterator", "_batch"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_needs_initial_reset"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_ongoing_episodes"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_done_episodes_for_metrics"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_ongoing_episodes_for_metrics"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_shared_data"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_cached_to_module"),
    ("ray.tune.logger.json.JsonLoggerCallback", "_trial_files"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_weights_seq_no"),
    ("ray.rllib.core.learner.learner.Learner", "_weights_seq_no"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_env_to_module"),
    ("ray.rllib.env.single_agent_env_runner.SingleAgentEnvRunner", "_module_to_env"),
)

# (importable owner, method, keyword): private keyword arguments of public methods that we pass.
PRIVATE_PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("ray.rllib.core.learner.learner.Learner", "update", "_no_metrics_reduce"),
)


# --- Learner ------------------------------------------------------------------------------------------


def step_without_checks(learner, gradients_dict: dict) -> bool:
    """Apply `gradients_dict` (param ref → gradient) with every optimizer's `step()`, skipping RLlib's
    per-parameter finiteness checks. Only when the learner has no grad scalers and no lr schedules
    (False: nothing was done, use `Learner.apply_gradients`)."""
    if learner._grad_scalers is not None or learner._lr_scheduler_classes is not None:
        return False
    for pid, grad in gradients_dict.items():
        learner._params[pid].grad = grad
    for module_id, names in learner._module_optimizers.items():
        for name in names:
            learner.get_optimizer(module_id, name).step()
    return True


def epoch_counting_iterator(batch_iter, set_epoch) -> object:
    """Wrap the minibatch iterator `Learner._create_iterator_if_necessary` returned: before each
    minibatch, call `set_epoch(e)` with the PPO epoch (pass over the batch) it belongs to, 0-based.

    The epoch is rows yielded so far // rows of the whole batch (single-module batches); a minibatch
    that straddles two epochs counts in the one it starts in. An iterator that is not a
    `MiniBatchCyclicIterator` (one pass, no minibatches) is epoch 0 throughout."""
    batch = getattr(batch_iter, "_batch", None)
    if batch is None:
        set_epoch(0)
        return batch_iter
    total = max(1, batch.agent_steps())  # rows (a minibatch's env_steps() is the whole batch's)

    def counting():
        seen = 0
        for minibatch in batch_iter:
            set_epoch(seen // total)
            yield minibatch
            seen += minibatch.agent_steps()

    return counting()


def per_epoch_minibatches(batch_iter, num_epochs: int, num_minibatches: int, set_epoch) -> object | None:
    """The reference's (CleanRL's) PPO minibatches in place of RLlib's cyclic iterator: every epoch, a
    fresh permutation of each module's rows (`SampleBatch.shuffle`, numpy's global generator, as RLlib's
    shuffle; always, whatever `shuffle_batch_per_epoch` says) split into `num_minibatches` near-equal
    parts (at most one per row); `set_epoch(e)` before each. None (keep `batch_iter`) when it holds no
    batch to split (`_batch`: RLlib's minibatch iterators) or a module's batch has sequences."""
    from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

    batch = getattr(batch_iter, "_batch", None)
    if batch is None or any(b.get(SampleBatch.SEQ_LENS) is not None for b in batch.policy_batches.values()):
        return None

    count = min([num_minibatches, *(len(b) for b in batch.policy_batches.values())])

    def minibatches():
        for epoch in range(num_epochs):
            set_epoch(epoch)
            parts = {}
            for module_id, module_batch in batch.policy_batches.items():
                module_batch.shuffle()
                rows = len(module_batch)
                cuts = [rows * i // count for i in range(count + 1)]
                parts[module_id] = [module_batch[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
            for i in range(count):
                yield MultiAgentBatch({mid: p[i] for mid, p in parts.items()}, batch.env_steps())

    return minibatches()


class EpochCountingLearner:
    """Learner mixin (list it before the Learner class): `self.ppo_epoch` is the 0-based epoch of the
    minibatch being trained, `self.ppo_num_epochs` the epochs of this update (RLlib has no public one).

    With `per_epoch_minibatches` True (a subclass decides; one learner, no `num_total_minibatches`) the
    minibatches are the reference's: `num_epochs` × (train batch // minibatch size) of them, reshuffled
    every epoch (`per_epoch_minibatches` above) instead of RLlib's cyclic iterator, which runs until
    every row was seen `num_epochs` times (17 minibatches of 256 for 1 024 steps plus the bootstrap
    rows), in rollout order on its first pass."""

    ppo_epoch = 0
    ppo_num_epochs = 1
    per_epoch_minibatches = False

    def _create_iterator_if_necessary(self, **kwargs):
        self.ppo_num_epochs = int(kwargs.get("num_epochs") or 1)
        batch_iter = super()._create_iterator_if_necessary(**kwargs)
        set_epoch = lambda epoch: setattr(self, "ppo_epoch", epoch)  # noqa: E731
        size = kwargs.get("minibatch_size")
        if self.per_epoch_minibatches and size and not kwargs.get("num_total_minibatches"):
            count = max(1, int(self.config.train_batch_size_per_learner) // int(size))
            ours = per_epoch_minibatches(batch_iter, self.ppo_num_epochs, count, set_epoch)
            if ours is not None:
                return ours
        return epoch_counting_iterator(batch_iter, set_epoch)


# --- EnvRunner ----------------------------------------------------------------------------------------


def env_runner_seed(runner) -> int | None:
    """The seed the runner's (re-armed) initial reset passes to `env.reset(seed=...)`."""
    return runner._seed


def set_env_runner_seed(runner, seed: int) -> None:
    """Make the runner's next initial reset use `seed`."""
    runner._seed = seed


def start_fresh_episodes_at_next_sample(runner, seed: int) -> None:
    """Make the runner's next `sample()` reset every env with `seed`, dropping any episode in progress
    (its steps already went wherever they were sampled to)."""
    runner._seed = seed
    runner._needs_initial_reset = True


_RUNNER_FIELDS = (
    "_ongoing_episodes",
    "_done_episodes_for_metrics",
    "_ongoing_episodes_for_metrics",
    "_shared_data",
    "_cached_to_module",
    "_needs_initial_reset",
    "_seed",
)


def env_runner_exact_state(runner) -> dict:
    """A `SingleAgentEnvRunner` mid-rollout, for a checkpoint: its envs' exact states (each env must have
    `get_exact_state()`), the vector env's autoreset flags, the episodes in progress, the cached
    connector output for the next step, its seed and its metrics. Picklable."""
    vector = runner.env.unwrapped
    return {
        "envs": [env.unwrapped.get_exact_state() for env in vector.envs],
        "autoreset": getattr(vector, "_autoreset_envs", None),
        "fields": {name: getattr(runner, name) for name in _RUNNER_FIELDS if hasattr(runner, name)},
        "metrics": runner.metrics.get_state(),
    }


def set_env_runner_exact_state(runner, state: dict) -> None:
    """Continue a runner from `env_runner_exact_state` (taken from a runner of the same config)."""
    import copy

    vector = runner.env.unwrapped
    if state["fields"].get("_needs_initial_reset") is False:
        runner.env.reset()  # arms the per-env wrappers (reset-before-step checks); states follow
    for env, env_state in zip(vector.envs, state["envs"], strict=True):
        env.unwrapped.set_exact_state(env_state)
    if state["autoreset"] is not None:
        vector._autoreset_envs = state["autoreset"].copy()
    for name, value in state["fields"].items():
        setattr(runner, name, copy.deepcopy(value))
    runner.metrics.set_state(state["metrics"])


def rearm_initial_reset(runner) -> None:
    """Make the runner's next `sample()` start new games with its (current) seed."""
    runner._needs_initial_reset = True


def logger_trial_file(callback, trial):
    """The open file a Tune file-logger callback writes `trial`'s rows to, or None before its first row."""
    return callback._trial_files.get(trial)


def learner_update(learner, *, reduce_metrics: bool, **kwargs):
    """`Learner.update(**kwargs)`; with `reduce_metrics=False` the learner keeps this update's metrics
    for the next reducing call (and returns None) instead of reducing them now."""
    return learner.update(**kwargs, _no_metrics_reduce=not reduce_metrics)


def replace_runner_connectors(runner, env_to_module_cls, module_to_env_cls) -> None:
    """Give a `SingleAgentEnvRunner` new env-to-module and module-to-env connectors (classes of
    `ConnectorV2`), built on the spaces its current ones were built on."""
    old_in, old_out = runner._env_to_module, runner._module_to_env
    runner._env_to_module = env_to_module_cls(
        input_observation_space=old_in.input_observation_space, input_action_space=old_in.input_action_space
    )
    runner._module_to_env = module_to_env_cls(
        input_observation_space=old_out.input_observation_space, input_action_space=old_out.input_action_space
    )


def share_weights_version(runner, learner) -> None:
    """Set the runner's weights version (its `weights_seq_no` metric) to the learner's: for a runner that
    acts with the learner's own module object, which is never synced."""
    runner._weights_seq_no = learner._weights_seq_no


def local_learner(algorithm):
    """The Learner of an Algorithm whose learner runs in its own process (`num_learners=0`), else None."""
    group = algorithm.learner_group
    if not group.is_local:
        return None
    (call,) = group.foreach_learner(lambda learner: learner)  # RemoteCallResults of one local call
    return call.get()


# --- Replay buffer ------------------------------------------------------------------------------------


def seed_replay_buffer(buffer, rng) -> None:
    """Give an `EpisodeReplayBuffer` its own seeded generator (`debugging(seed=...)` does not)."""
    if hasattr(buffer, "rng"):
        buffer.rng = rng


# --- AlgorithmConfig ----------------------------------------------------------------------------------


def env_to_module_override(connector_fn) -> dict[str, Any]:
    """An `AlgorithmConfig.overrides(...)` entry that sets the env-to-module connector (the public key
    `env_to_module_connector` is silently ignored by `overrides`)."""
    return {"_env_to_module_connector": connector_fn}


# --- Tune's CSV logger --------------------------------------------------------------------------------


def csv_writer_for_resumed_trial(callback, trial, header_of) -> None:
    """Before a `CSVLoggerCallback` logs a resumed trial's first result: write under the header already
    in its file (`header_of(trial) → list | None`) instead of the columns of that result."""
    import csv

    if trial not in callback._trial_files:
        callback._setup_trial(trial)  # restores the file from the storage path, if it is remote
    if callback._trial_csv[trial] is None and callback._trial_continue[trial]:
        header = header_of(trial)
        if header:
            callback._trial_csv[trial] = csv.DictWriter(callback._trial_files[trial], header)
