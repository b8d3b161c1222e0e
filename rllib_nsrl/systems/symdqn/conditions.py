"""The five conditions of the SymDQN ablation (docs/systems/symdqn.md) as module flags. Ray-free."""

from __future__ import annotations

# name → which symbolic parts are on
CONDITIONS: dict[str, dict[str, bool]] = {
    "DuelDQN": {"symbolic": False, "action_reasoner": False, "action_filter": False},
    "SymDQN": {"symbolic": True, "action_reasoner": False, "action_filter": False},
    "SymDQN(AR)": {"symbolic": True, "action_reasoner": True, "action_filter": False},
    "SymDQN(AF)": {"symbolic": True, "action_reasoner": False, "action_filter": True},
    "SymDQN(AR,AF)": {"symbolic": True, "action_reasoner": True, "action_filter": True},
}


def slug(condition: str) -> str:
    """File-system friendly name: 'SymDQN(AR,AF)' → 'SymDQN-AR-AF'."""
    return condition.replace("(", "-").replace(")", "").replace(",", "-")


def condition_of(config: dict) -> str:
    """The condition of a trial config (runs made before `SymDQNConfig` kept it in `_model_config`)."""
    if "condition" in config:
        return str(config["condition"])
    return str(config["_model_config"]["condition"])
