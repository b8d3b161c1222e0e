"""A small real Pong perception dataset (in-process collection, no Ray), shared by the INSIGHT unit tests."""

import pytest

from rllib_nsrl.systems.insight.data import DataSettings, collect


@pytest.fixture(scope="session")
def pong_data(tmp_path_factory):
    """Folder of 96 training and 32 test frames of random Pong (seed 0)."""
    settings = DataSettings(game="Pong", train_frames=96, test_frames=32, shards=2, every=2, seed=0)
    return collect(settings, tmp_path_factory.mktemp("insight_data"), log=lambda _: None)


@pytest.fixture(scope="session")
def pong_pretrained(pong_data):
    """(settings, folder) of a short pre-training of perception (feature_dim 64) on `pong_data`."""
    from rllib_nsrl.systems.insight.pretrain import PretrainSettings, ensure_pretrained, pretrain_folder

    settings = PretrainSettings(epochs=12, batch_size=16, feature_dim=64, seed=0)
    ensure_pretrained(pong_data, [settings], log=lambda _: None)
    return settings, pretrain_folder(pong_data, settings)
