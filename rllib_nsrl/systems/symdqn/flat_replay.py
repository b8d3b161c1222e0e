"""`FlatReplayBuffer`: uniform replay of single transitions in preallocated arrays.

RLlib's `EpisodeReplayBuffer` keeps whole episodes and builds a `SingleAgentEpisode` slice for every
sampled transition, which the learner connector then turns back into columns: ≈ 4 ms per batch of 16 on
this machine, more than the Q-network's forward pass. SymDQN samples 1-step transitions uniformly, so
this buffer stores them as rows of a ring (observation, action, reward, next observation, terminated)
and a sample is one index draw and one gather per column, already in the train-batch layout of RLlib's
DQN loss (`obs`, `new_obs`, `actions`, `rewards`, `terminateds`, `n_step`, `weights`).

Observations may be arrays or (masked envs) dicts of arrays; each leaf gets its own array. Next
observations are stored beside the observations (≈ 60 MB at capacity 1 000 for 50×50×3 float images,
twice what the episode buffer holds), which keeps a sample one gather and the ring simple.
The buffer has its own seeded generator and a picklable state (`get_state`/`set_state`), so a restored
run samples exactly the batches an uninterrupted one does.
"""

from __future__ import annotations

import numpy as np
import torch
import tree
from ray.rllib.core.columns import Columns


class FlatReplayBuffer:
    """Ring buffer of `capacity` transitions, sampled uniformly with replacement.

    capacity: transitions kept (the oldest is overwritten first).
    seed: seed of the buffer's own sampling generator.
    """

    def __init__(self, capacity: int, seed: int | None = None):
        if capacity < 1:
            raise ValueError(f"capacity: must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(seed)
        self._obs: list[np.ndarray] | None = None  # one array per observation leaf
        self._next_obs: list[np.ndarray] | None = None
        self._structure = None
        self._actions = np.zeros(self.capacity, dtype=np.int64)
        self._rewards = np.zeros(self.capacity, dtype=np.float32)
        self._terminated = np.zeros(self.capacity, dtype=bool)
        self._size = 0
        self._next = 0  # row the next transition goes to
        self.added = 0  # transitions added over the buffer's lifetime

    def __len__(self) -> int:
        return self._size

    def _allocate(self, example) -> None:
        self._structure = example
        leaves = [np.asarray(x) for x in tree.flatten(example)]
        self._obs = [np.zeros((self.capacity, *x.shape), dtype=x.dtype) for x in leaves]
        self._next_obs = [np.zeros_like(a) for a in self._obs]

    def add_transition(self, obs, action, reward, next_obs, terminated: bool) -> None:
        """Store one transition (overwrites the oldest once full)."""
        if self._obs is None:
            self._allocate(obs)
        i = self._next
        for store, leaf in zip(self._obs, tree.flatten(obs), strict=True):
            store[i] = leaf
        for store, leaf in zip(self._next_obs, tree.flatten(next_obs), strict=True):
            store[i] = leaf
        self._actions[i] = int(action)
        self._rewards[i] = float(reward)
        self._terminated[i] = bool(terminated)
        self._next = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)
        self.added += 1

    def add_episodes(self, episodes) -> int:
        """Store every step of RLlib `SingleAgentEpisode` chunks (as an env runner's `sample()` returns
        them); the last step of a terminated chunk is stored as terminal. Returns the steps added."""
        added = 0
        for episode in episodes:
            n = len(episode)
            if n == 0:
                continue
            obs = episode.get_observations(slice(0, n + 1))
            if isinstance(obs, list):  # an episode not yet numpy-ized: one item per step
                obs = tree.map_structure(lambda *steps: np.stack(steps), *obs)
            actions = np.asarray(episode.get_actions(slice(0, n)))
            rewards = np.asarray(episode.get_rewards(slice(0, n)))
            for t in range(n):
                self.add_transition(
                    tree.map_structure(lambda x, t=t: x[t], obs),
                    actions[t],
                    rewards[t],
                    tree.map_structure(lambda x, t=t: x[t + 1], obs),
                    episode.is_terminated and t == n - 1,
                )
            added += n
        return added

    def sample(self, num_items: int) -> dict:
        """A train batch of `num_items` transitions drawn uniformly (with replacement), as torch tensors."""
        if self._size == 0:
            raise ValueError("sample: the replay buffer is empty")
        idx = self.rng.integers(0, self._size, size=num_items)

        def column(stores):
            leaves = [torch.from_numpy(store[idx]) for store in stores]
            return tree.unflatten_as(self._structure, leaves)

        return {
            Columns.OBS: column(self._obs),
            Columns.NEXT_OBS: column(self._next_obs),
            Columns.ACTIONS: torch.from_numpy(self._actions[idx]),
            Columns.REWARDS: torch.from_numpy(self._rewards[idx]),
            Columns.TERMINATEDS: torch.from_numpy(self._terminated[idx]),
            "n_step": torch.ones(num_items),
            "weights": torch.ones(num_items),
        }

    def get_state(self) -> dict:
        """Everything needed to continue exactly: contents, ring position and the generator's state."""
        n = self._size
        return {
            "capacity": self.capacity,
            "structure": self._structure,
            "obs": None if self._obs is None else [a[:n].copy() for a in self._obs],
            "next_obs": None if self._next_obs is None else [a[:n].copy() for a in self._next_obs],
            "actions": self._actions[:n].copy(),
            "rewards": self._rewards[:n].copy(),
            "terminated": self._terminated[:n].copy(),
            "size": n,
            "next": self._next,
            "added": self.added,
            "rng": self.rng.bit_generator.state,
        }

    def set_state(self, state: dict) -> None:
        """Continue from `get_state()` of a buffer of the same capacity."""
        if int(state["capacity"]) != self.capacity:
            raise ValueError(f"replay capacity: checkpoint has {state['capacity']}, config {self.capacity}")
        n = int(state["size"])
        self._structure = state["structure"]
        if state["obs"] is not None:
            self._allocate(tree.unflatten_as(self._structure, [a[0] for a in state["obs"]]))
            for store, saved in zip(self._obs, state["obs"], strict=True):
                store[:n] = saved
            for store, saved in zip(self._next_obs, state["next_obs"], strict=True):
                store[:n] = saved
        self._actions[:n] = state["actions"]
        self._rewards[:n] = state["rewards"]
        self._terminated[:n] = state["terminated"]
        self._size, self._next, self.added = n, int(state["next"]), int(state["added"])
        self.rng.bit_generator.state = state["rng"]
