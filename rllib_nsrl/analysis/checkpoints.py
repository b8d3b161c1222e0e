"""Trained modules from Tune runs: find an Algorithm checkpoint and load its RLModule in any process.

No environment registration and no Ray session are needed: the module is rebuilt from the class and
constructor arguments RLlib saved next to its weights, and the weights are loaded on top. A pre-trained
weights file named in the module's config (INSIGHT's perception) is not read: the checkpoint holds the
trained weights, and the run may have moved.

    from rllib_nsrl.analysis.checkpoints import find_checkpoints, load_module
    checkpoint, params = find_checkpoints("runs/insight_pong")[0]
    module = load_module(checkpoint)          # an InsightModule / SymDQNModule, in eval mode
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

MODULE_PATH = ("learner_group", "learner", "rl_module", "default_policy")


def _params(trial_dir: Path) -> dict:
    path = trial_dir / "params.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def find_checkpoints(path: str | Path) -> list[tuple[Path, dict]]:
    """(newest checkpoint, trial params) of every trial under `path`: a run directory, a trial directory
    or an Algorithm checkpoint itself. Trials without a checkpoint are left out."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such run, trial or checkpoint directory")
    if path.joinpath(*MODULE_PATH).is_dir():
        return [(path, _params(path.parent))]
    trials = (
        [path] if (path / "params.json").is_file() else sorted(p.parent for p in path.glob("*/params.json"))
    )
    out = []
    for trial in trials:
        checkpoints = [c for c in trial.glob("checkpoint_*") if c.joinpath(*MODULE_PATH).is_dir()]
        if checkpoints:
            out.append((max(checkpoints, key=lambda c: int(c.name.split("_")[-1])), _params(trial)))
    return out


def module_class_name(checkpoint: Path) -> str:
    """Class name of the RLModule saved in an Algorithm checkpoint."""
    with open(Path(checkpoint).joinpath(*MODULE_PATH, "class_and_ctor_args.pkl"), "rb") as f:
        return pickle.load(f)["class"].__name__


def load_module(checkpoint: str | Path):
    """The trained RLModule of an Algorithm checkpoint (or of its module folder), in eval mode."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    folder = Path(checkpoint).resolve()  # RLlib reads a relative path as a URI
    if folder.joinpath(*MODULE_PATH).is_dir():
        folder = folder.joinpath(*MODULE_PATH)
    with open(folder / "class_and_ctor_args.pkl", "rb") as f:
        ctor = pickle.load(f)
    args, kwargs = ctor["ctor_args_and_kwargs"]
    kwargs = dict(kwargs)
    model_config = dict(kwargs.get("model_config") or {})
    if "perception_weights" in model_config:
        model_config["perception_weights"] = None
    kwargs["model_config"] = model_config
    module = ctor["class"](*args, **kwargs)
    if not isinstance(module, RLModule):
        raise TypeError(f"{folder}: not an RLModule checkpoint")
    module.restore_from_path(folder)
    module.eval()
    return module
