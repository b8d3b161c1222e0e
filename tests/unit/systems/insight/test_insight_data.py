"""The perception dataset: layout, manifest, labels that match the env's teacher, determinism, errors."""

import json

import numpy as np
import pytest

from rllib_nsrl.envs.atari import OBJECT_SLOTS
from rllib_nsrl.systems.insight.data import DataSettings, collect, ensure_dataset, load_split, read_manifest


def test_dataset_has_both_splits_with_the_teacher_labels(pong_data):
    manifest = read_manifest(pong_data)
    assert manifest["game"] == "Pong" and manifest["slots"] == list(OBJECT_SLOTS["Pong"])
    assert manifest["splits"]["train"]["frames"] == 96 and manifest["splits"]["test"]["frames"] == 32
    obs, objects = load_split(pong_data, "train")
    assert obs.shape == (96, 4, 84, 84) and obs.dtype == np.uint8
    assert objects.shape == (96, 3, 4, 5) and objects.dtype == np.float32
    assert set(np.unique(objects[..., 0])) <= {0.0, 1.0}
    assert ((objects[..., 1:] >= 0) & (objects[..., 1:] <= 1)).all()
    # both paddles are on screen in most frames, and the ball (absent between points) in some
    seen = manifest["splits"]["train"]["exists_frequency"]
    assert seen["player"] > 0.5 and seen["enemy"] > 0.5 and 0 < seen["ball"] <= 1


def test_the_same_settings_give_the_same_data(pong_data, tmp_path):
    settings = DataSettings(**read_manifest(pong_data)["settings"])
    again = collect(settings, tmp_path, log=lambda _: None)
    for split in ("train", "test"):
        for a, b in zip(load_split(pong_data, split), load_split(again, split), strict=True):
            assert np.array_equal(a, b)


def test_test_games_are_not_training_games(pong_data):
    import pyarrow.parquet as pq
    import ray.data.extensions  # noqa: F401

    ids = {
        split: set(pq.read_table(pong_data / split).column("game_id").to_pylist())
        for split in ("train", "test")
    }
    assert ids["train"].isdisjoint(ids["test"])


def test_a_complete_dataset_is_reused_and_never_rewritten(pong_data):
    settings = DataSettings(**read_manifest(pong_data)["settings"])
    before = (pong_data / "manifest.json").stat().st_mtime_ns
    assert ensure_dataset(settings, pong_data.parent, log=lambda _: None) == pong_data
    assert (pong_data / "manifest.json").stat().st_mtime_ns == before
    with pytest.raises(FileExistsError):
        collect(settings, pong_data.parent, log=lambda _: None)


def test_an_interrupted_collection_is_collected_again(tmp_path):
    settings = DataSettings(game="Boxing", train_frames=8, test_frames=4, shards=1, every=1)
    folder = tmp_path / settings.key
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "part-000.parquet").write_bytes(b"cut")
    assert ensure_dataset(settings, tmp_path, log=lambda _: None) == folder
    assert json.loads((folder / "manifest.json").read_text())["splits"]["train"]["frames"] == 8


def test_a_missing_dataset_says_which_command_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nsrl collect"):
        load_split(tmp_path, "train")
