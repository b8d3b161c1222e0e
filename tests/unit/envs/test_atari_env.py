"""AtariObjectsEnv and its RAM teacher (INSIGHT, the INSIGHT paper).

Needs the `insight` extra (ale-py, opencv, OCAtari as the oracle), which the README's test command installs:
a missing extra fails these tests rather than skipping them."""

import warnings

import ale_py  # noqa: F401  (the extra must be there: fail, never skip)
import cv2  # noqa: F401
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rllib_nsrl.envs.atari import (
    ENV_ID,
    INFO_GAME_OVER,
    INFO_OBJECTS,
    INFO_RAW_REWARD,
    OBJECT_SLOTS,
    AtariObjectsEnv,
    normalize_boxes,
    ram_boxes,
    register,
    variable_names,
)

GAMES = ("Pong", "Freeway", "Boxing")
# OCAtari's object list (hud=False) → our slots; Freeway's index 1 is the idle second chicken.
OCATARI_INDEX = {"Pong": [0, 1, 2], "Freeway": [0, *range(2, 12)], "Boxing": [0, 1]}
OCATARI_CATEGORY = {"Pong": ["Player", "Ball", "Enemy"], "Freeway": ["Chicken"] + ["Car"] * 10,
                    "Boxing": ["Player", "Enemy"]}  # fmt: skip
PLAIN = {"noop_max": 0, "fire_reset": False, "episodic_life": False, "clip_rewards": False}


def _ocatari(game, **kwargs):
    import ocatari.core as core

    # create_buffer_stacks: a fresh list, since OCAtari's default list is shared and grows per instance
    return core.OCAtari(f"{game}NoFrameskip-v4", mode="ram", hud=False, obs_mode="ori",
                        create_buffer_stacks=[], **kwargs)  # fmt: skip


def _ocatari_boxes(game, objects):
    picked = [objects[i] for i in OCATARI_INDEX[game]]
    return [tuple(o.xywh) if o else None for o in picked], [o.category if o else None for o in picked]


def test_check_env_with_warnings_as_errors():
    register()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(ENV_ID, config={"game": "Pong"}, render_mode="rgb_array").unwrapped)
        check_env(AtariObjectsEnv({"game": "Freeway"}), skip_render_check=True)


@pytest.mark.parametrize("game, actions", [("Pong", 6), ("Freeway", 3), ("Boxing", 18)])
def test_spaces_and_objects_info(game, actions):
    env = AtariObjectsEnv({"game": game})
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert env.action_space == gym.spaces.Discrete(actions)
    obs, info = env.reset(seed=0)
    for _ in range(20):
        assert obs in env.observation_space
        objects = info[INFO_OBJECTS]
        assert objects.shape == (len(OBJECT_SLOTS[game]), 4, 5) and objects.dtype == np.float32
        assert objects.min() >= 0.0 and objects.max() <= 1.0
        assert np.all(objects[..., 1:][objects[..., 0] == 0] == 0)  # absent objects are all zeros
        obs, _, _, _, info = env.step(env.action_space.sample())
    # the stack shifts: the newest frame's objects become the previous frame's on the next step
    newest = info[INFO_OBJECTS][:, -1].copy()
    _, _, _, _, info = env.step(0)
    np.testing.assert_array_equal(info[INFO_OBJECTS][:, -2], newest)


@pytest.mark.parametrize("game", GAMES)
def test_ram_teacher_equals_ocatari_on_recorded_frames(game):
    oc = _ocatari(game)
    oc.reset(seed=1)
    rng = np.random.default_rng(1)
    recorded = []
    for _ in range(1500):
        _, _, truncated, terminated, _ = oc.step(int(rng.integers(oc.action_space.n)))  # OCAtari's order
        recorded.append((oc.get_ram().copy(), *_ocatari_boxes(game, oc.objects)))
        if truncated or terminated:
            oc.reset()
    for ram, boxes, categories in recorded:
        assert all(c in (None, want) for c, want in zip(categories, OCATARI_CATEGORY[game], strict=True))
        assert ram_boxes(game, ram) == boxes
    if game == "Pong":  # both branches of the ball rule were exercised
        assert {boxes[1] is None for _, boxes, _ in recorded} == {True, False}


@pytest.mark.parametrize("game", GAMES)
def test_env_objects_equal_ocatari_end_to_end(game):
    """Same seed and actions, skip 4 in both: the newest frame's slots are OCAtari's objects, normalised."""
    env = AtariObjectsEnv({"game": game, **PLAIN})
    oc = _ocatari(game, frameskip=4)
    _, info = env.reset(seed=7)
    oc.reset(seed=7)
    rng = np.random.default_rng(7)
    for _ in range(300):
        boxes, _ = _ocatari_boxes(game, oc.objects)
        np.testing.assert_allclose(info[INFO_OBJECTS][:, -1], normalize_boxes(boxes), atol=1e-6)
        action = int(rng.integers(env.action_space.n))
        _, _, terminated, truncated, info = env.step(action)
        oc.step(action)
        if terminated or truncated:
            break


def test_same_seed_same_frames_and_objects():
    envs = [AtariObjectsEnv({"game": "Pong"}) for _ in range(2)]
    runs = []
    for env in envs + envs[:1]:  # two envs, then the first one again after another seeded reset
        obs, info = env.reset(seed=3)
        frames, objects = [obs], [info[INFO_OBJECTS]]
        for t in range(60):
            obs, _, _, _, info = env.step(t % 6)
            frames.append(obs)
            objects.append(info[INFO_OBJECTS])
        runs.append((np.stack(frames), np.stack(objects)))
    for frames, objects in runs[1:]:
        np.testing.assert_array_equal(frames, runs[0][0])
        np.testing.assert_array_equal(objects, runs[0][1])
    assert len(np.unique(runs[0][0][-1].reshape(4, -1), axis=0)) > 1  # the stack really holds 4 frames


def test_noop_reset_draws_from_the_seeded_rng():
    env = AtariObjectsEnv({"game": "Pong", "fire_reset": False})
    starts = {env.reset(seed=s)[1]["episode_frame_number"] for s in range(6)}
    assert starts <= set(range(1, 31)) and len(starts) > 2


def test_unknown_game_and_config_key():
    with pytest.raises(ValueError, match=r"unsupported Atari game 'Qbert'; supported: Pong, Freeway, Boxing"):
        AtariObjectsEnv({"game": "Qbert"})
    with pytest.raises(ValueError, match="unknown config key"):
        AtariObjectsEnv({"game": "Pong", "frameskip": 4})
    with pytest.raises(ValueError, match="unsupported Atari game"):
        variable_names("Breakout")


def test_variable_names_follow_the_coordinate_layout():
    names = variable_names("Pong")
    assert len(names) == 3 * 4 * 2
    assert names[:3] == ["x_player_1", "y_player_1", "x_player_2"]
    coords = np.arange(3 * 4 * 2).reshape(3, 4, 2)  # [S, F, (x, y)]
    assert names[int(coords[1, 3, 0])] == "x_ball_4" and names[int(coords[1, 3, 1])] == "y_ball_4"


def test_fire_reset_only_where_the_game_has_fire():
    for game, frames in (("Pong", 8), ("Freeway", 0)):  # FIRE then action 2, 4 frames each
        env = AtariObjectsEnv({"game": game, "noop_max": 0})
        assert env.reset(seed=0)[1]["episode_frame_number"] == frames


def test_reward_clipping_keeps_the_raw_score():
    for clip in (True, False):
        env = AtariObjectsEnv({"game": "Pong", "clip_rewards": clip})
        env.reset(seed=0)
        raws = []
        for _ in range(400):
            _, reward, _, _, info = env.step(0)
            raws.append(info[INFO_RAW_REWARD])
            assert reward == (np.sign(info[INFO_RAW_REWARD]) if clip else info[INFO_RAW_REWARD])
        assert any(r != 0 for r in raws)


def test_truncation_by_frame_limit():
    env = AtariObjectsEnv({"game": "Freeway", **PLAIN, "max_episode_frames": 40})
    env.reset(seed=0)
    ends = [env.step(1)[2:4] for _ in range(10)]
    assert ends.index((False, True)) == 9  # 10 steps × 4 frames


class _ScriptedLives:
    """Wraps the ALE but reports lives from a script (Pong, Freeway and Boxing have no lives)."""

    def __init__(self, ale, lives):
        self._ale, self.value = ale, lives

    def lives(self):
        return self.value

    def __getattr__(self, name):
        return getattr(self._ale, name)


@pytest.mark.parametrize("episodic", [True, False])
def test_episodic_life_ends_the_episode_and_continues_the_game(episodic):
    env = AtariObjectsEnv({"game": "Pong", **PLAIN, "episodic_life": episodic})
    env.ale = _ScriptedLives(env.ale, 3)
    env.reset(seed=0)
    env.step(0)
    env.ale.value = 2
    _, _, terminated, _, info = env.step(0)
    assert terminated == episodic and not info[INFO_GAME_OVER]
    frame = info["episode_frame_number"]
    _, info = env.reset()
    if episodic:  # one no-op step of the same game
        assert info["episode_frame_number"] == frame + 4
        env.ale.value = 1
        assert env.step(0)[2]
        assert env.reset(seed=0)[1]["episode_frame_number"] == 0  # a seed always starts a new game
    else:
        assert info["episode_frame_number"] == 0


@pytest.mark.parametrize("game", ["Pong", "Freeway"])
def test_exact_state_continues_a_game_bit_for_bit_in_another_env(game):
    import pickle

    env = AtariObjectsEnv({"game": game})
    env.reset(seed=5)
    actions = np.random.default_rng(0).integers(0, env.action_space.n, size=400)
    for a in actions[:150]:
        env.step(int(a))
    saved = pickle.loads(pickle.dumps(env.get_exact_state()))  # as it travels in a checkpoint

    def play(e):
        out = []
        for a in actions[150:]:
            obs, reward, terminated, truncated, info = e.step(int(a))
            out.append(
                (obs.tobytes(), reward, terminated, truncated, info["objects"].tobytes(), info["lives"])
            )
            if terminated or truncated:
                e.reset()  # the env's own generator picks the no-ops: restored too
        return out

    straight = play(env)
    other = AtariObjectsEnv({"game": game})
    other.reset(seed=123)  # a different game in progress, overwritten by the saved one
    other.set_exact_state(saved)
    assert play(other) == straight
