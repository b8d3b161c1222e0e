"""Every private Ray attribute `ray_private.py` touches still exists in the installed Ray.

A Ray upgrade that renames one fails here, naming it, instead of breaking a run. The attributes are
instance attributes set in `__init__`/`build`, so the check reads the owner's source (and its bases').
"""

import importlib
import inspect
import re

import pytest

from rllib_nsrl.ray_private import PRIVATE_ATTRIBUTES, PRIVATE_PARAMETERS


def owner(path):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(
    ("path", "attr"), PRIVATE_ATTRIBUTES, ids=[f"{p.rsplit('.', 1)[1]}.{a}" for p, a in PRIVATE_ATTRIBUTES]
)
def test_private_attribute_still_exists(path, attr):
    cls = owner(path)
    if hasattr(cls, attr):
        return
    sources = "".join(inspect.getsource(c) for c in cls.__mro__ if c.__module__.startswith("ray."))
    assert re.search(rf"self\.{re.escape(attr)}\b\s*(:[^=]*)?=", sources), (
        f"{path} no longer sets `{attr}`: update rllib_nsrl/ray_private.py for this Ray version"
    )


@pytest.mark.parametrize(("path", "method", "keyword"), PRIVATE_PARAMETERS)
def test_private_parameter_still_exists(path, method, keyword):
    signature = inspect.signature(getattr(owner(path), method))
    assert keyword in signature.parameters, (
        f"{path}.{method} no longer takes `{keyword}`: update rllib_nsrl/ray_private.py for this Ray version"
    )


def test_no_other_module_touches_private_ray_attributes():
    """The fence holds: the private names above appear nowhere else in the package."""
    from pathlib import Path

    root = Path(__file__).parents[2] / "rllib_nsrl"
    names = {attr for _, attr in PRIVATE_ATTRIBUTES if attr != "_env_to_module_connector"}
    keywords = {keyword for _, _, keyword in PRIVATE_PARAMETERS}
    for path in root.rglob("*.py"):
        if path.name == "ray_private.py":
            continue
        text = path.read_text()
        for name in names:
            assert f".{name}" not in text, f"{path.relative_to(root)} touches {name}: go through ray_private"
        for name in keywords:
            assert name not in text, f"{path.relative_to(root)} passes {name}: go through ray_private"
