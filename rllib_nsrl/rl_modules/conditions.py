"""The five conditions of the SymDQN ablation (SPEC §1) as module flags. Ray-free."""

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
