"""FlatReplayBuffer: transitions from RLlib episode chunks, uniform sampling, exact state round trip."""

import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_nsrl.systems.symdqn.flat_replay import FlatReplayBuffer


def episode(start: int, steps: int, terminated: bool) -> SingleAgentEpisode:
    """A chunk whose observation t is the constant image `start + t` and whose reward t is 10·(start + t)."""
    ep = SingleAgentEpisode(observations=[np.full((2, 2), start, dtype=np.float32)])
    for t in range(steps):
        last = t == steps - 1
        ep.add_env_step(
            np.full((2, 2), start + t + 1, dtype=np.float32),
            action=(start + t) % 4,
            reward=10.0 * (start + t),
            terminated=terminated and last,
        )
    return ep


def test_each_step_becomes_one_transition_and_only_the_last_of_a_terminated_chunk_is_terminal():
    buffer = FlatReplayBuffer(capacity=100, seed=0)
    assert buffer.add_episodes([episode(0, 3, terminated=False), episode(10, 2, terminated=True)]) == 5
    assert len(buffer) == 5
    batch = buffer.sample(200)
    obs, nxt = batch[Columns.OBS][:, 0, 0], batch[Columns.NEXT_OBS][:, 0, 0]
    assert torch.equal(nxt, obs + 1)  # next obs is the one after, within a chunk
    assert torch.equal(batch[Columns.REWARDS], 10.0 * obs)
    assert torch.equal(batch[Columns.ACTIONS], obs.long() % 4)
    assert torch.equal(batch[Columns.TERMINATEDS], obs == 11)  # the last step of the terminated chunk
    assert set(obs.tolist()) == {0.0, 1.0, 2.0, 10.0, 11.0}  # every transition can be drawn
    assert torch.equal(batch["n_step"], torch.ones(200)) and torch.equal(batch["weights"], torch.ones(200))


def test_a_full_ring_overwrites_the_oldest_transitions():
    buffer = FlatReplayBuffer(capacity=4, seed=0)
    buffer.add_episodes([episode(0, 6, terminated=False)])
    assert len(buffer) == 4 and buffer.added == 6
    assert set(buffer.sample(100)[Columns.OBS][:, 0, 0].tolist()) == {2.0, 3.0, 4.0, 5.0}


def test_dict_observations_keep_their_structure():
    buffer = FlatReplayBuffer(capacity=8, seed=0)
    mask = np.array([1, 0, 1, 1], dtype=np.int8)
    buffer.add_transition(
        {"observations": np.ones(3), "action_mask": mask},
        2,
        1.0,
        {"observations": np.zeros(3), "action_mask": mask},
        False,
    )
    batch = buffer.sample(2)
    assert set(batch[Columns.OBS]) == {"observations", "action_mask"}
    assert batch[Columns.OBS]["action_mask"].dtype == torch.int8
    assert torch.equal(batch[Columns.NEXT_OBS]["observations"], torch.zeros(2, 3, dtype=torch.float64))


def test_a_restored_buffer_draws_the_same_batches():
    a = FlatReplayBuffer(capacity=5, seed=3)
    a.add_episodes([episode(0, 7, terminated=True)])
    a.sample(4)
    b = FlatReplayBuffer(capacity=5, seed=99)
    b.set_state(a.get_state())
    for _ in range(3):
        x, y = a.sample(6), b.sample(6)
        assert all(torch.equal(x[k], y[k]) for k in x)
    a.add_episodes([episode(20, 2, terminated=False)])
    b.add_episodes([episode(20, 2, terminated=False)])
    assert torch.equal(a.sample(8)[Columns.OBS], b.sample(8)[Columns.OBS])  # same ring position


def test_bad_use_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="capacity"):
        FlatReplayBuffer(capacity=0)
    with pytest.raises(ValueError, match="empty"):
        FlatReplayBuffer(capacity=3).sample(1)
    full = FlatReplayBuffer(capacity=3)
    full.add_episodes([episode(0, 1, terminated=False)])
    with pytest.raises(ValueError, match="capacity"):
        FlatReplayBuffer(capacity=4).set_state(full.get_state())
