"""Grid patches of a ShapesGrid observation and the set of unique patches seen so far (SymDQN §3.2).

The ShapeRecognizer axioms A1–A3 quantify over *unique shapes*: every distinct cell image the agent has
seen is one individual of the LTN variable `s`, so that "s1 ≠ s2" is simply index inequality.
"""

from __future__ import annotations

import torch

GRID = 5
CELL = 10
CHANNELS = 3
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15 - (1 << 64)  # 64-bit golden-ratio constant, as int64


def grid_patches(obs: torch.Tensor, grid: int = GRID, cell: int = CELL) -> torch.Tensor:
    """Cut channels-last images into cell patches.

    obs: [B, grid*cell, grid*cell, C] → [B, grid*grid, C, cell, cell]; patch k = cell (row k // grid,
    col k % grid) = pixels [cell*row : cell*row + cell, cell*col : cell*col + cell].
    """
    b, _, _, c = obs.shape
    x = obs.reshape(b, grid, cell, grid, cell, c)  # [B, row, y, col, x, C]
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, grid * grid, c, cell, cell)


def patches_to_image(patches: torch.Tensor, grid: int = GRID) -> torch.Tensor:
    """Inverse of `grid_patches`: [B, grid*grid, C, cell, cell] → [B, grid*cell, grid*cell, C]."""
    b, _, c, cell, _ = patches.shape
    x = patches.reshape(b, grid, grid, c, cell, cell).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, grid * cell, grid * cell, c)


def patch_keys(patches: torch.Tensor) -> torch.Tensor:
    """Exact identity key of each patch: its uint8-quantised bytes packed into int64 words.

    patches: [N, C, H, W] in [0, 1] → [N, ceil(C*H*W / 8)] int64. Two patches share a key iff their
    quantised pixels are byte-identical.
    """
    n = patches.shape[0]
    q = patches.detach().reshape(n, -1).mul(255.0).clamp_(0.0, 255.0).round_().to(torch.uint8)
    packed = q.new_zeros(n, -(-q.shape[1] // 8) * 8)
    packed[:, : q.shape[1]] = q
    return packed.view(torch.int64)


def key_hashes(keys: torch.Tensor) -> torch.Tensor:
    """64-bit polynomial hash of each key row: [N, W] int64 → [N] int64 (wrapping arithmetic)."""
    powers = torch.arange(1, keys.shape[1] + 1, device=keys.device, dtype=torch.int64)
    return (keys * (powers * _HASH_MULTIPLIER | 1)).sum(dim=1)


def _first_of_groups(groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Smallest row index of each group: groups [R] in [0, num_groups) → [R] representative row."""
    rows = torch.arange(groups.shape[0], device=groups.device)
    first = torch.full((num_groups,), groups.shape[0], dtype=torch.long, device=groups.device)
    return first.scatter_reduce_(0, groups, rows, reduce="amin")[groups]


def distinct_rows(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact row dedupe: rows [N, D] → (first [M]: first row of each distinct row, inverse [N] in [0, M)).

    `rows[first][inverse]` equals `rows`. A 1-D `torch.unique` of one projection per row groups
    candidates; one `torch.equal` against each group's first row proves the grouping exact, else it
    falls back to `torch.unique(dim=0)`. (~1 ms for the 800 cell patches of a 32-image batch, where
    the ShapeRecognizer CNN on all of them costs ~40 ms.)
    """
    n, d = rows.shape
    if n == 0:
        return rows.new_zeros(0, dtype=torch.long), rows.new_zeros(0, dtype=torch.long)
    weights = torch.arange(1, d + 1, device=rows.device, dtype=rows.dtype).sqrt_()
    _, inverse = torch.unique(rows @ weights, return_inverse=True)
    first = _group_firsts(inverse, n)
    if not torch.equal(rows[first][inverse], rows):
        _, inverse = torch.unique(rows, dim=0, return_inverse=True)
        first = _group_firsts(inverse, n)
    return first, inverse


def _group_firsts(inverse: torch.Tensor, n: int) -> torch.Tensor:
    """Smallest row index of each group 0..M-1 of `inverse` [n]: [M]."""
    rows = torch.arange(n, device=inverse.device)
    first = torch.full((int(inverse.max()) + 1,), n, dtype=torch.long, device=inverse.device)
    return first.scatter_reduce_(0, inverse, rows, reduce="amin")


class UniquePatchSet:
    """The unique cell patches seen so far, deduplicated by exact quantised bytes.

    Capacity policy: first-in-first-out. When more than `capacity` unique patches have been seen, the
    oldest are dropped, so the set tracks what the agent currently sees (e.g. after a colour-scheme
    transfer) and the A3 term stays O(capacity²). With one ShapesGrid configuration there are only 5
    unique patches (empty, agent, circle, cross, square), so the cap is a safety bound.

    Stored tensors live on the device of the latest `add` input (moved there if it changes).
    """

    def __init__(self, capacity: int = 512):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._patches: torch.Tensor | None = None  # [M, C, H, W] first-seen float patch of each key
        self._keys: torch.Tensor | None = None  # [M, W] int64, oldest first

    def __len__(self) -> int:
        return 0 if self._keys is None else int(self._keys.shape[0])

    def add(self, patches: torch.Tensor) -> int:
        """Add patches [N, C, H, W] (any leading shape is flattened to N); returns how many were new.

        Bulk dedupe: one 1-D `torch.unique` on a 64-bit hash of the stored and incoming keys, then an
        exact byte comparison of every row with its group's representative; on a hash collision it
        falls back to `torch.unique(dim=0)` on the keys themselves, so the set is exact.
        """
        patches = patches.detach().reshape(-1, *patches.shape[-3:])
        if patches.shape[0] == 0:
            return 0
        # a batch of grids repeats a few glyphs: key and hash only its distinct patches (same result)
        patches = patches[distinct_rows(patches.reshape(patches.shape[0], -1))[0].sort().values]
        keys = patch_keys(patches)
        if self._keys is None:
            self._keys, self._patches = keys[:0], patches[:0].clone()
        self._keys = self._keys.to(keys.device)
        self._patches = self._patches.to(device=patches.device, dtype=patches.dtype)
        m = self._keys.shape[0]
        all_keys = torch.cat([self._keys, keys])
        uniq, groups = torch.unique(key_hashes(all_keys), return_inverse=True)
        rep = _first_of_groups(groups, uniq.shape[0])
        if not bool((all_keys == all_keys[rep]).all()):
            uniq, groups = torch.unique(all_keys, dim=0, return_inverse=True)
            rep = _first_of_groups(groups, uniq.shape[0])
        incoming = rep[m:]
        rows = torch.unique(incoming[incoming >= m]) - m  # first arrival of each new key, in order
        if rows.numel():
            self._keys = torch.cat([self._keys, keys[rows]])[-self.capacity :]
            self._patches = torch.cat([self._patches, patches[rows]])[-self.capacity :]
        return int(rows.numel())

    def tensor(self) -> torch.Tensor:
        """The unique patches [M, C, H, W], oldest first (M = 0 before the first `add`)."""
        if self._patches is None:
            return torch.zeros(0, CHANNELS, CELL, CELL)
        return self._patches

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, "patches": None if self._patches is None else self._patches.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.capacity = int(state["capacity"])
        patches = state["patches"]
        if patches is None or patches.shape[0] == 0:
            self._patches = self._keys = None
            return
        patches = patches[-self.capacity :]
        self._patches = patches.clone()
        self._keys = patch_keys(patches)
