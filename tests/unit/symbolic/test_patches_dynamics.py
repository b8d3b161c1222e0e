import torch

from rllib_nsrl.symbolic.grid_dynamics import AgentLabelTracker, agent_cell_from_probs, next_cells
from rllib_nsrl.symbolic.patches import (
    UniquePatchSet,
    distinct_rows,
    grid_patches,
    patch_keys,
    patches_to_image,
)


def test_patches_follow_cell_layout_and_round_trip():
    obs = torch.rand(3, 50, 50, 3)
    patches = grid_patches(obs)
    assert patches.shape == (3, 25, 3, 10, 10)
    r, c = 3, 1
    assert torch.equal(
        patches[1, 5 * r + c], obs[1, 10 * r : 10 * r + 10, 10 * c : 10 * c + 10].permute(2, 0, 1)
    )
    assert torch.equal(patches_to_image(patches), obs)


def test_keys_are_exact():
    a = torch.zeros(2, 3, 10, 10)
    a[1, 2, 9, 9] = 1.0  # differ in the very last byte (padding region of the key)
    keys = patch_keys(a)
    assert keys.dtype == torch.int64 and keys.shape == (2, 38)
    assert not torch.equal(keys[0], keys[1])


def test_unique_set_dedupes_in_bulk():
    glyphs = torch.rand(5, 3, 10, 10)
    index = torch.randint(0, 5, (400,))
    index[:5] = torch.tensor([3, 1, 3, 0, 1])
    s = UniquePatchSet()
    added = s.add(glyphs[index])
    assert added == len(s) == 5
    assert torch.equal(s.tensor()[:3], glyphs[[3, 1, 0]])  # arrival order
    assert s.add(glyphs[torch.randint(0, 5, (100,))]) == 0 and len(s) == 5
    assert s.add(torch.zeros(0, 3, 10, 10)) == 0


def test_unique_set_takes_already_distinct_rows_without_reducing_them_again():
    glyphs = torch.rand(5, 3, 10, 10)
    batch = glyphs[torch.tensor([4, 4, 2, 0, 2, 4, 1])]
    first, _ = distinct_rows(batch.reshape(7, -1))
    reduced, direct = UniquePatchSet(), UniquePatchSet()
    reduced.add(glyphs[[2]])
    direct.add(glyphs[[2]])
    assert reduced.add(batch) == direct.add(batch[first.sort().values], distinct=True) == 3
    assert torch.equal(direct.tensor(), reduced.tensor())
    assert torch.equal(direct.tensor(), glyphs[[2, 4, 0, 1]])
    # distinct_rows may (rarely) keep two equal rows apart: the key lookup still stores one of them
    assert direct.add(glyphs[[3, 3, 1]], distinct=True) == 1
    assert torch.equal(direct.tensor(), glyphs[[2, 4, 0, 1, 3]])


def test_unique_set_cap_is_fifo_and_checkpoints():
    s = UniquePatchSet(capacity=4)
    first = torch.rand(3, 3, 10, 10)
    s.add(first)
    later = torch.rand(3, 3, 10, 10)
    assert s.add(later) == 3
    assert len(s) == 4
    assert torch.equal(s.tensor(), torch.cat([first[2:], later]))
    restored = UniquePatchSet()
    restored.load_state_dict(s.state_dict())
    assert restored.capacity == 4 and torch.equal(restored.tensor(), s.tensor())
    assert restored.add(later) == 0
    empty = UniquePatchSet()
    empty.load_state_dict(UniquePatchSet().state_dict())
    assert len(empty) == 0 and empty.tensor().shape == (0, 3, 10, 10)


def test_next_cells_corners_edges_centre():
    cells = torch.tensor([0, 4, 20, 24, 2, 12])
    expected = torch.tensor(
        [
            [0, 1, 5, 0],  # top-left: up and left blocked
            [4, 4, 9, 3],  # top-right
            [15, 21, 20, 20],  # bottom-left
            [19, 24, 24, 23],  # bottom-right
            [2, 3, 7, 1],  # top edge
            [7, 13, 17, 11],  # centre
        ]
    )
    assert torch.equal(next_cells(cells), expected)


def test_agent_cell_and_label_tracker():
    torch.manual_seed(0)
    b, agent = 8, 2
    probs = torch.zeros(b, 25, 5)
    cells = torch.randint(0, 25, (b,))
    probs[torch.arange(b), cells, agent] = 0.9
    probs[:, :6, 0] = 0.8  # label 0: six cells in every state
    probs[:, 10, 3] = 0.7  # label 3: once in every state ...
    probs[:4, 11, 3] = 0.7  # ... but twice in half of them
    assert torch.equal(agent_cell_from_probs(probs, agent), cells)
    assert torch.equal(agent_cell_from_probs(probs, torch.tensor(agent)), cells)
    tracker = AgentLabelTracker()
    assert tracker.agent_label() == 0  # no evidence yet
    tracker.update(probs)
    assert tracker.agent_label() == agent
    assert tracker.scores().tolist() == [0.0, 0.0, 1.0, 0.5, 0.0]
    restored = AgentLabelTracker()
    restored.load_state_dict(tracker.state_dict())
    assert restored.agent_label() == agent


def test_unique_set_is_byte_exact():
    glyphs = torch.zeros(3, 3, 10, 10)
    glyphs[1, 2, 9, 9] = 1.0  # differs from glyph 0 in the last pixel only
    glyphs[2, 0, 0, 0] = 1.0 / 255.0  # one quantisation step
    s = UniquePatchSet()
    assert s.add(glyphs[[0, 1, 0]]) == 2
    assert s.add(glyphs) == 1
    assert torch.equal(s.tensor(), glyphs)
    noisy = glyphs[:1] + 1e-4  # below the uint8 quantisation: the same key as glyph 0
    assert s.add(noisy) == 0


def test_distinct_rows_is_exact_when_projections_collide(monkeypatch):
    import rllib_nsrl.symbolic.patches as patches_module

    rows = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    real_unique = torch.unique

    def colliding_unique(x, *args, **kwargs):  # every projection in one group
        if x.dim() == 1 and x.is_floating_point():
            return real_unique(torch.zeros_like(x), *args, **kwargs)
        return real_unique(x, *args, **kwargs)

    monkeypatch.setattr(patches_module.torch, "unique", colliding_unique)
    first, inverse = patches_module.distinct_rows(rows)
    assert torch.equal(rows[first][inverse], rows)
    assert first.numel() == 3
