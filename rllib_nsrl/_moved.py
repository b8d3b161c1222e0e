"""Old module paths of classes and functions that pickles made before the one-folder-per-system move name.

Tune's `tuner.pkl`, experiment states and RLlib checkpoints pickle classes and functions by module path
(`rllib_nsrl.algorithms.epoch_dqn.EpochDQN`, `rllib_nsrl.lifelong.ilp_trainable.ilp_trainable`, ...).
So that run directories made by earlier versions still load in `nsrl analyze` and continue with
`nsrl run --resume`, importing an old path gives a small module that forwards every attribute to its new
home. Nothing else may import these paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

# old module → new module
MOVED = {
    "rllib_nsrl.rl_modules.conditions": "rllib_nsrl.systems.symdqn.conditions",
    "rllib_nsrl.rl_modules.symdqn_module": "rllib_nsrl.systems.symdqn.module",
    "rllib_nsrl.learners.symdqn_learner": "rllib_nsrl.systems.symdqn.learner",
    "rllib_nsrl.algorithms.epoch_dqn": "rllib_nsrl.systems.symdqn.algorithm",
    "rllib_nsrl.env_runners.fresh_episodes_env_runner": "rllib_nsrl.systems.symdqn.env_runner",
    "rllib_nsrl.callbacks.shapes_metrics": "rllib_nsrl.systems.symdqn.callbacks",
    "rllib_nsrl.lifelong.ilp_domains": "rllib_nsrl.systems.lifelong_ilp.domains",
    "rllib_nsrl.lifelong.ilp_protocol": "rllib_nsrl.systems.lifelong_ilp.protocol",
    "rllib_nsrl.lifelong.ilp_trainable": "rllib_nsrl.systems.lifelong_ilp.trainable",
    "rllib_nsrl.lifelong.blocks_trainable": "rllib_nsrl.systems.blocksworld.trainable",
    "rllib_nsrl.offline.collect": "rllib_nsrl.systems.blocksworld.collect",
    "rllib_nsrl.offline.layout": "rllib_nsrl.envs.blocksworld.layout",
    "rllib_nsrl.rl_modules.nlm_actor_critic": "rllib_nsrl.systems.blocksworld.module",
    "rllib_nsrl.learners.offline_actor_critic_learner": "rllib_nsrl.systems.blocksworld.learner",
}
# old module → {old name: new name} for what was renamed
RENAMED: dict[str, dict[str, str]] = {}
# old module → new module for classes that moved to a module of another name
RENAMED_TO = {
    ("rllib_nsrl.algorithms.epoch_dqn", "EpochDQNConfig"): (
        "rllib_nsrl.systems.symdqn.config",
        "SymDQNConfig",
    ),
}
PACKAGES = {name.rsplit(".", 1)[0] for name in MOVED}


class _Forward(types.ModuleType):
    """A module whose attributes are those of its new home (with renames)."""

    def __init__(self, name: str):
        super().__init__(name, f"moved to {MOVED[name]}")
        self._old = name

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        moved = RENAMED_TO.get((self._old, attr))
        if moved is not None:
            return getattr(importlib.import_module(moved[0]), moved[1])
        new = importlib.import_module(MOVED[self._old])
        return getattr(new, RENAMED.get(self._old, {}).get(attr, attr))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname in MOVED or fullname in PACKAGES:
            return importlib.util.spec_from_loader(fullname, self, is_package=fullname in PACKAGES)
        return None

    def create_module(self, spec):
        if spec.name in PACKAGES:
            module = types.ModuleType(spec.name, "moved: see rllib_nsrl/_moved.py")
            module.__path__ = []
            return module
        return _Forward(spec.name)

    def exec_module(self, module) -> None:
        pass


def install() -> None:
    """Let old module paths resolve (idempotent)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
