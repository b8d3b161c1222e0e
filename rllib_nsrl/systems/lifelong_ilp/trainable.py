"""Ray Tune function trainable for one lifelong supervised-ILP run (`ILPProtocol` in a Tune trial).

Reports once per epoch: `epoch` (global, 1-based), `task_index`, `task`, `train_loss` and, for every task
T of the domain, `test_loss/T`, `test_acc/T`, `test_acc_2x/T` (NaN before T has a head). A checkpoint is
attached at every task boundary (after the last epoch of each task, so also at the end); with
`FailureConfig(max_failures=N)` a crashed trial restarts from `tune.get_checkpoint()` at the task it was
on (RLlib notes, pitfall 14). Importing this module does not start Ray.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from ray import tune

from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, ILPProtocol

STATE_FILE = "ilp_state.pt"


def ilp_trainable(config: dict) -> None:
    """config: the `ILPConfig` fields (domain, mode, seed, epochs_per_task, batches_per_epoch, batch_size,
    lr, kb_depth, kb_channels, head_channels, test_size, n_objects, ...); unknown keys raise ValueError."""
    torch.set_num_threads(1)  # trials share the machine's cores
    protocol = ILPProtocol(ILPConfig.from_dict(dict(config)))
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            protocol.load_state_dict(torch.load(Path(folder) / STATE_FILE, weights_only=True))
    while not protocol.done:
        metrics = protocol.train_epoch()
        if not protocol.at_task_boundary:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            torch.save(protocol.state_dict(), Path(folder) / STATE_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
