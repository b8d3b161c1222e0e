"""BlocksWorld states ↔ NLM predicate tensors, ground-action indexing and the symbolic action mask.

Blocks are the PDDL objects ``b0 … b{n-1}`` (type ``block``); block ``bi`` is object axis index ``i``.

Tensors (float32, values in {0, 1}), per NLM arity (Dong et al. 2019):

* ``nullary``: ``[2]`` — ``HandEmpty()``, ``HandFull()``
* ``unary``: ``[n, 3]`` — ``OnTable(X)``, ``Clear(X)``, ``Holding(X)``
* ``binary``: ``[n, n, 1]`` — ``On(X, Y)`` at ``[X, Y, 0]``
* ``goal_unary``: ``[n, 1]`` — goal ``OnTable(X)``
* ``goal_binary``: ``[n, n, 1]`` — goal ``On(X, Y)``

The goal parts encode the episode's goal conjunction with the same layout as the state, so a policy can
concatenate ``unary ‖ goal_unary`` and ``binary ‖ goal_binary`` along channels to condition on the goal.

Ground actions (``2n² + 2n``), in this fixed order::

    PickUp(bi)            -> i
    PutDown(bi)           -> n + i
    Stack(bi, bj)         -> 2n + i·n + j
    Unstack(bi, bj)       -> 2n + n² + i·n + j

The ``i == j`` slots of Stack/Unstack keep the paper's count ``2x² + 2x`` but are never valid.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pddlgym.structs import Literal, Predicate, Type

from rllib_nsrl.constants import ACTION_MASK
from rllib_nsrl.envs.blocksworld.tasks import Towers

NULLARY = "nullary"
UNARY = "unary"
BINARY = "binary"
GOAL_UNARY = "goal_unary"
GOAL_BINARY = "goal_binary"
STATE_KEYS = (NULLARY, UNARY, BINARY)
GOAL_KEYS = (GOAL_UNARY, GOAL_BINARY)
OBS_KEYS = (*STATE_KEYS, *GOAL_KEYS, ACTION_MASK)

BLOCK = Type("block")
NULLARY_PREDICATES = ("handempty", "handfull")
UNARY_PREDICATES = ("ontable", "clear", "holding")
BINARY_PREDICATES = ("on",)
_ARITY = {
    **dict.fromkeys(NULLARY_PREDICATES, 0),
    **dict.fromkeys(UNARY_PREDICATES, 1),
    **dict.fromkeys(BINARY_PREDICATES, 2),
    "pickup": 1,
    "putdown": 1,
    "stack": 2,
    "unstack": 2,
}
# Literals compare by their string, so these equal the ones PDDLGym parses from blocks.pddl.
PREDICATES: dict[str, Predicate] = {name: Predicate(name, a, [BLOCK] * a) for name, a in _ARITY.items()}


def block_names(num_blocks: int) -> list[str]:
    """PDDL object names ``["b0", …, "b{n-1}"]``."""
    return [f"b{i}" for i in range(num_blocks)]


def num_actions(num_blocks: int) -> int:
    """Number of ground actions, ``2n² + 2n``."""
    return 2 * num_blocks * num_blocks + 2 * num_blocks


def _idx(entity) -> int:
    return int(entity.name[1:]) if hasattr(entity, "name") else int(str(entity).split(":")[0][1:])


def ground_actions(num_blocks: int) -> list[Literal]:
    """All ground action literals, position = action index (see module docstring)."""
    b = [BLOCK(name) for name in block_names(num_blocks)]
    acts = [PREDICATES["pickup"](x) for x in b] + [PREDICATES["putdown"](x) for x in b]
    for name in ("stack", "unstack"):
        acts += [PREDICATES[name](x, y) for x in b for y in b]
    return acts


def action_index(action: Literal, num_blocks: int) -> int:
    """Index of a ground action literal (inverse of ``ground_actions``)."""
    n, name, args = num_blocks, action.predicate.name, [_idx(v) for v in action.variables]
    if name == "pickup":
        return args[0]
    if name == "putdown":
        return n + args[0]
    if name in ("stack", "unstack"):
        return 2 * n + (n * n if name == "unstack" else 0) + args[0] * n + args[1]
    raise ValueError(f"not a BlocksWorld action literal: {action}")


_DISPLAY = {"pickup": "PickUp", "putdown": "PutDown", "stack": "Stack", "unstack": "Unstack"}


def action_name(index: int, num_blocks: int) -> str:
    """Readable name of an action index, e.g. ``"Stack(b0, b3)"``."""
    lit = ground_actions(num_blocks)[index]
    return f"{_DISPLAY[lit.predicate.name]}({', '.join(v.name for v in lit.variables)})"


def encode_state(literals: Iterable[Literal], num_blocks: int) -> dict[str, np.ndarray]:
    """State literals → ``{nullary: [2], unary: [n, 3], binary: [n, n, 1]}`` float32."""
    nullary = np.zeros(2, np.float32)
    unary = np.zeros((num_blocks, 3), np.float32)
    binary = np.zeros((num_blocks, num_blocks, 1), np.float32)
    for lit in literals:
        name = lit.predicate.name
        if name in NULLARY_PREDICATES:
            nullary[NULLARY_PREDICATES.index(name)] = 1.0
        elif name in UNARY_PREDICATES:
            unary[_idx(lit.variables[0]), UNARY_PREDICATES.index(name)] = 1.0
        elif name == "on":
            binary[_idx(lit.variables[0]), _idx(lit.variables[1]), 0] = 1.0
        else:
            raise ValueError(f"unexpected literal in a BlocksWorld state: {lit}")
    return {NULLARY: nullary, UNARY: unary, BINARY: binary}


def decode_state(nullary: np.ndarray, unary: np.ndarray, binary: np.ndarray) -> frozenset[Literal]:
    """Inverse of ``encode_state`` (entries > 0.5 are true)."""
    b = [BLOCK(name) for name in block_names(unary.shape[0])]
    lits = {PREDICATES[p]() for k, p in enumerate(NULLARY_PREDICATES) if nullary[k] > 0.5}
    lits |= {PREDICATES[UNARY_PREDICATES[c]](b[i]) for i, c in zip(*np.nonzero(unary > 0.5), strict=True)}
    lits |= {PREDICATES["on"](b[i], b[j]) for i, j, _ in zip(*np.nonzero(binary > 0.5), strict=True)}
    return frozenset(lits)


def encode_goal(goal: Iterable[Literal], num_blocks: int) -> dict[str, np.ndarray]:
    """Goal literals (``on``/``ontable``) → ``{goal_unary: [n, 1], goal_binary: [n, n, 1]}`` float32."""
    goal_unary = np.zeros((num_blocks, 1), np.float32)
    goal_binary = np.zeros((num_blocks, num_blocks, 1), np.float32)
    for lit in goal:
        if lit.predicate.name == "ontable":
            goal_unary[_idx(lit.variables[0]), 0] = 1.0
        elif lit.predicate.name == "on":
            goal_binary[_idx(lit.variables[0]), _idx(lit.variables[1]), 0] = 1.0
        else:
            raise ValueError(f"goal literals must be on/ontable, got {lit}")
    return {GOAL_UNARY: goal_unary, GOAL_BINARY: goal_binary}


def decode_goal(goal_unary: np.ndarray, goal_binary: np.ndarray) -> frozenset[Literal]:
    """Inverse of ``encode_goal`` (entries > 0.5 are true): the goal ``ontable``/``on`` literals."""
    b = [BLOCK(name) for name in block_names(goal_unary.shape[0])]
    lits = {PREDICATES["ontable"](b[i]) for i in np.nonzero(goal_unary[:, 0] > 0.5)[0]}
    lits |= {PREDICATES["on"](b[i], b[j]) for i, j, _ in zip(*np.nonzero(goal_binary > 0.5), strict=True)}
    return frozenset(lits)


def towers_to_literals(towers: Towers, holding: int | None = None) -> frozenset[Literal]:
    """State literals of a configuration (all blocks listed in ``towers`` or held)."""
    blk = {i: BLOCK(f"b{i}") for t in towers for i in t}
    lits = set()
    for tower in towers:
        lits.add(PREDICATES["ontable"](blk[tower[0]]))
        lits |= {PREDICATES["on"](blk[up], blk[down]) for down, up in zip(tower[:-1], tower[1:], strict=True)}
        lits.add(PREDICATES["clear"](blk[tower[-1]]))
    if holding is None:
        lits.add(PREDICATES["handempty"]())
    else:
        lits |= {PREDICATES["holding"](BLOCK(f"b{holding}")), PREDICATES["handfull"]()}
    return frozenset(lits)


def goal_literals(goal: Towers) -> frozenset[Literal]:
    """Goal conjunction of a (partial) configuration: ``OnTable`` of each bottom, ``On`` inside towers."""
    b = {i: BLOCK(f"b{i}") for t in goal for i in t}
    lits = {PREDICATES["ontable"](b[t[0]]) for t in goal}
    lits |= {PREDICATES["on"](b[up], b[down]) for t in goal for down, up in zip(t[:-1], t[1:], strict=True)}
    return frozenset(lits)


def mask_from_tensors(nullary: np.ndarray, unary: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """Actions whose STRIPS preconditions hold (``blocks.pddl``), ``[2n² + 2n]`` int8."""
    hand_empty, hand_full = nullary[0] > 0.5, nullary[1] > 0.5
    on_table, clear, holding = (unary[:, c] > 0.5 for c in range(3))
    on = binary[..., 0] > 0.5
    off_diag = ~np.eye(unary.shape[0], dtype=bool)
    pickup = clear & on_table & hand_empty
    putdown = holding & hand_full
    stack = holding[:, None] & clear[None, :] & hand_full & off_diag
    unstack = on & clear[:, None] & hand_empty & off_diag
    return np.concatenate([pickup, putdown, stack.ravel(), unstack.ravel()]).astype(np.int8)


def valid_action_mask(literals: Iterable[Literal], num_blocks: int) -> np.ndarray:
    """Mask of the actions valid in a state given as literals, ``[2n² + 2n]`` int8."""
    t = encode_state(literals, num_blocks)
    return mask_from_tensors(t[NULLARY], t[UNARY], t[BINARY])
