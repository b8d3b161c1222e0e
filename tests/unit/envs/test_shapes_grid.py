import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rllib_nsrl  # noqa: F401  (registers the env ids)
from rllib_nsrl.envs.shapes_grid import (
    AGENT,
    CELL,
    CIRCLE,
    COLOR_SCHEMES,
    CROSS,
    EMPTY,
    GLYPH_SETS,
    GLYPHS,
    SQUARE,
    ShapesGridEnv,
    cell_images,
    episode_metrics,
)

LAYOUT = [
    "A.X..",
    "O....",
    "..S..",
    ".....",
    "....X",
]


def test_check_env_with_warnings_as_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("rllib_nsrl/ShapesGrid-v0", render_mode="rgb_array").unwrapped)
        check_env(
            ShapesGridEnv({"colors": "blue_red", "min_shapes": 1, "max_shapes": 24}), skip_render_check=True
        )


def test_registered_gym_id_and_declared_space():
    env = gym.make("rllib_nsrl/ShapesGrid-v0")
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert obs.shape == (50, 50, 3) and obs.dtype == np.float32


def test_same_seed_same_episode_and_seed_none_works():
    def rollout(seed):
        env = ShapesGridEnv()
        obs, info = env.reset(seed=seed)
        frames, rng = [obs], np.random.default_rng(0)
        for _ in range(20):
            obs, *_ = env.step(int(rng.integers(4)))
            frames.append(obs)
        return np.stack(frames)

    assert np.array_equal(rollout(7), rollout(7))
    assert not np.array_equal(rollout(7), rollout(8))
    ShapesGridEnv().reset(seed=None)


def test_default_density_matches_reference_code():
    env = ShapesGridEnv()
    for seed in range(20):
        _, info = env.reset(seed=seed)
        grid = info["grid"]
        assert (grid == AGENT).sum() == 1
        assert (grid != EMPTY).sum() == 19  # 18 shapes + agent → 6 empty cells
        assert (grid == CROSS).sum() >= 1  # a positive shape is always present


def test_dynamics_walls_consumption_and_rewards():
    env = ShapesGridEnv({"layout": LAYOUT})
    _, info = env.reset(seed=0)
    assert info["max_return"] == 2.0 and info["negatives_present"] == 1
    _, r, term, trunc, info = env.step(0)  # up into the wall: stays
    assert r == 0.0 and info["agent"].tolist() == [0, 0]
    _, r, *_ = env.step(3)  # left wall
    assert info["agent"].tolist() == [0, 0] and r == 0.0
    _, r, _, _, info = env.step(2)  # down onto the circle
    assert r == -1.0 and info["consumed"]["circle"] == 1 and info["negatives_consumed"] == 1
    env.step(0)
    env.step(1)
    _, r, term, _, info = env.step(1)  # right onto the first cross
    assert r == 1.0 and not term and info["grid"][0, 2] == AGENT


def test_terminates_when_all_positive_consumed_and_metrics():
    env = ShapesGridEnv({"layout": ["AX...", "O....", ".....", ".....", "....."]})
    env.reset(seed=0)
    _, r, term, trunc, info = env.step(1)
    assert r == 1.0 and term and not trunc
    score, neg = episode_metrics(info)
    assert score == 1.0 and neg == 0.0


def test_truncated_at_step_limit():
    env = ShapesGridEnv({"max_steps": 3, "layout": LAYOUT})
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_simple_glyphs_render_the_binary_masks():
    env = ShapesGridEnv({"glyphs": "simple"})
    obs, info = env.reset(seed=5)
    grid = info["grid"]
    for r in range(5):
        for c in range(5):
            patch = obs[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]
            fg = (patch == 0.0).all(axis=-1)  # black shapes on white
            assert np.array_equal(fg, GLYPHS[grid[r, c]]), (r, c)
            assert np.isin(patch, (0.0, 1.0)).all()  # binary: no anti-aliasing
    # distinct glyphs for distinct entities
    flat = GLYPHS.reshape(5, -1)
    assert len({row.tobytes() for row in flat}) == 5


@pytest.mark.parametrize("glyphs", sorted(GLYPH_SETS))
def test_rendering_is_the_cached_cell_image_of_each_grid_cell(glyphs):
    env = ShapesGridEnv({"glyphs": glyphs, "colors": "red_blue"})
    obs, info = env.reset(seed=5)
    cells = cell_images(glyphs, "red_blue")
    assert cells is cell_images(glyphs, "red_blue") and not cells.flags.writeable
    for r in range(5):
        for c in range(5):
            patch = obs[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL]
            assert np.array_equal(patch, cells[info["grid"][r, c]]), (r, c)
    obs[:] = 0.5  # the observation is a fresh array, not a view of the cache
    assert not np.array_equal(env.render_observation(), obs)


@pytest.mark.parametrize("colors", sorted(COLOR_SCHEMES))
@pytest.mark.parametrize("glyphs", sorted(GLYPH_SETS))
def test_every_scheme_and_glyph_set_keeps_entities_clearly_apart(glyphs, colors):
    cells = cell_images(glyphs, colors).astype(np.float64)  # [5, 10, 10, 3]
    assert cells.min() >= 0.0 and cells.max() <= 1.0
    assert np.allclose(cells[EMPTY], COLOR_SCHEMES[colors][0])  # empty = background
    l1 = np.abs(cells[:, None] - cells[None, :]).sum(axis=(2, 3, 4))  # [5, 5]
    off_diagonal = l1[~np.eye(5, dtype=bool)]
    assert off_diagonal.min() > 20.0, l1  # ≥ 10 pixels' worth of a full 2-channel colour change


def test_paper_glyphs_have_the_reference_geometry():
    a = GLYPH_SETS["paper"]  # alphas [5, 10, 10]
    assert a.min() >= 0.0 and a.max() <= 1.0 and not a[EMPTY].any()
    # "+": 2 px bars through the middle from edge to edge, nothing in the corners
    assert (a[AGENT, 4:6, :] == 1.0).all() and (a[AGENT, :, 4:6] == 1.0).all()
    assert a[AGENT].sum() == 36 and a[AGENT, 0, 0] == a[AGENT, 3, 3] == 0.0
    # "×": both diagonals from corner to corner, the middle of each side empty
    idx = np.arange(CELL)
    assert (a[CROSS, idx, idx] == 1.0).all() and (a[CROSS, idx, idx[::-1]] == 1.0).all()
    assert a[CROSS, 0, 4:6].max() == 0.0 and a[CROSS, 4:6, 0].max() == 0.0
    # circle: a ring touching the middle of each side, not the corners, hollow in the middle
    ring = a[CIRCLE]
    assert min(ring[0, 4:6].min(), ring[9, 4:6].min(), ring[4:6, 0].min(), ring[4:6, 9].min()) > 0.9
    assert ring[[0, 0, 9, 9], [0, 9, 0, 9]].max() == 0.0 and ring[4:6, 4:6].max() == 0.0
    assert ((ring > 0.0) & (ring < 1.0)).any()  # anti-aliased edge pixels
    # square: a 2 px outline on the cell border, background inside
    assert (a[SQUARE, [0, 1, 8, 9], :] == 1.0).all() and (a[SQUARE, :, [0, 1, 8, 9]] == 1.0).all()
    assert a[SQUARE].sum() == 64 and a[SQUARE, 2:8, 2:8].max() == 0.0
    # inked pixel counts close to the reference code's (≈ 36/52/56/64 for agent/cross/circle/square)
    inked = (a >= 0.5).sum(axis=(1, 2))
    assert inked[AGENT] == 36 and inked[SQUARE] == 64
    assert abs(int(inked[CROSS]) - 52) <= 8 and abs(int(inked[CIRCLE]) - 56) <= 10
    # the default, and the simple set's square shares no pixel with the paper's
    assert ShapesGridEnv().glyphs == "paper"
    assert not (GLYPHS[SQUARE] & (a[SQUARE] > 0)).any()


def test_colour_schemes_and_zero_reward_option():
    env = ShapesGridEnv({"colors": "red_blue", "zero_reward": -0.1, "layout": LAYOUT})
    obs, _ = env.reset(seed=0)
    assert np.allclose(obs[0, 9], [1.0, 0.0, 0.0])  # red background pixel
    _, r, _, _, info = env.step(1)  # empty cell → -0.1 given, true return unchanged
    assert r == pytest.approx(-0.1) and info["true_return"] == 0.0


@pytest.mark.parametrize(
    "config, match",
    [
        ({"colours": "x"}, "unknown config key"),
        ({"colors": "green"}, "colors must be one of"),
        ({"glyphs": "fancy"}, "glyphs must be one of"),
        ({"min_shapes": 5, "max_shapes": 3}, "min_shapes"),
        ({"rewards": {"cross": 0.0}}, "positive reward"),
        ({"layout": ["A...."]}, "5 strings"),
        ({"layout": ["AA...", ".....", ".....", ".....", "....X"]}, "exactly one agent"),
        ({"rewards": {"triangle": 1.0}}, "unknown shape"),
    ],
)
def test_bad_config_raises_clear_error(config, match):
    with pytest.raises(ValueError, match=match):
        ShapesGridEnv(config)


def test_codes_are_distinct_constants():
    assert len({EMPTY, AGENT, CIRCLE, CROSS, SQUARE}) == 5
