"""BlocksWorld PDDL text (domain and generated problems) and loading through PDDLGym with file:line errors.

PDDLGym's parser is regex-based and fails with bare ``AssertionError``/``AttributeError`` and no position.
Every file is therefore first read by a light s-expression check (balanced parentheses, required sections,
declared predicates with the right arity, declared parameters/objects) that reports ``"<file>:<line>: ..."``;
anything PDDLGym still rejects is re-raised as a ``ValueError`` with the best line we can find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pddlgym.core import PDDLEnv
from pddlgym.parser import PDDLDomainParser, PDDLProblemParser
from pddlgym.structs import Literal

from rllib_nsrl.envs.blocksworld.encoding import block_names

DOMAIN_NAME = "blocks"
# Hand predicates are nullary (paper Table 1), unlike PDDLGym's bundled blocks.pddl (`handempty ?robot`).
DOMAIN_PDDL = """\
; BlocksWorld with 4 operators; PDDLGym loads it with operators_as_actions=True.
(define (domain blocks)
  (:requirements :strips :typing)
  (:types block)
  (:predicates
    (on ?x - block ?y - block)
    (ontable ?x - block)
    (clear ?x - block)
    (handempty)
    (handfull)
    (holding ?x - block)
  )
  (:action pickup
    :parameters (?x - block)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (clear ?x)) (not (handempty)) (handfull) (holding ?x))
  )
  (:action putdown
    :parameters (?x - block)
    :precondition (and (holding ?x) (handfull))
    :effect (and (not (holding ?x)) (clear ?x) (handempty) (not (handfull)) (ontable ?x))
  )
  (:action stack
    :parameters (?x - block ?y - block)
    :precondition (and (holding ?x) (clear ?y) (handfull))
    :effect (and (not (holding ?x)) (not (clear ?y)) (clear ?x) (handempty) (not (handfull)) (on ?x ?y))
  )
  (:action unstack
    :parameters (?x - block ?y - block)
    :precondition (and (on ?x ?y) (clear ?x) (handempty))
    :effect (and (holding ?x) (clear ?y) (not (clear ?x)) (not (handempty)) (handfull) (not (on ?x ?y)))
  )
)
"""


def write_domain(directory: str | Path) -> Path:
    """Write ``DOMAIN_PDDL`` to ``<directory>/blocks.pddl``; returns that path."""
    path = Path(directory) / f"{DOMAIN_NAME}.pddl"
    path.write_text(DOMAIN_PDDL)
    return path


def problem_pddl(num_blocks: int, init: Iterable[Literal], goal: Iterable[Literal], name: str = "bw") -> str:
    """Problem text, one literal per line (so a parse error points at the offending literal)."""
    lines = [
        f"(define (problem {name}) (:domain {DOMAIN_NAME})",
        f"  (:objects {' '.join(block_names(num_blocks))} - block)",
        "  (:init",
    ]
    lines += [f"    {lit.pddl_str()}" for lit in sorted(init)]
    lines += ["  )", "  (:goal (and"]
    lines += [f"    {lit.pddl_str()}" for lit in sorted(goal)]
    lines += ["  ))", ")", ""]
    return "\n".join(lines)


def write_problem(
    path: str | Path, num_blocks: int, init: Iterable[Literal], goal: Iterable[Literal]
) -> Path:
    """Write the problem text of ``problem_pddl`` (named after the file's stem) to ``path``; returns it."""
    path = Path(path)
    path.write_text(problem_pddl(num_blocks, init, goal, name=path.stem))
    return path


# ---------------------------------------------------------------- light check with line numbers
class _Atom(str):
    line: int


class _List(list):
    line: int
    indent: int


def _error(path, line: int, message: str) -> ValueError:
    return ValueError(f"{path}:{line}: {message}")


def _read_sexpr(path: str | Path) -> _List:
    root = _List()
    root.line, root.indent, stack = 1, 0, [root]
    # A ')' that starts a line closes the form opened on a line indented like it; if not, the form it
    # does close (e.g. a literal missing its ')') is the likely culprit of an imbalance.
    suspect = None
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        code = raw.split(";", 1)[0]
        indent = len(code) - len(code.lstrip())
        for k, tok in enumerate(re.findall(r"\(|\)|[^\s()]+", code)):
            if tok == "(":
                node = _List()
                node.line, node.indent = lineno, indent
                stack[-1].append(node)
                stack.append(node)
            elif tok == ")":
                if len(stack) == 1:
                    raise _error(path, lineno, "unbalanced ')'")
                if k == 0 and stack[-1].indent != indent and suspect is None:
                    suspect = stack[-1].line
                stack.pop()
            else:
                atom = _Atom(tok.lower())
                atom.line = lineno
                stack[-1].append(atom)
    if len(stack) > 1:
        lines = ", ".join(str(node.line) for node in stack[1:])
        raise _error(path, suspect or stack[-1].line, f"a ')' is missing here (unclosed '(' on line {lines})")
    if len(root) != 1 or not isinstance(root[0], list) or not root[0] or root[0][0] != "define":
        raise _error(path, root[0].line if root else 1, "expected exactly one (define ...) form")
    return root[0]


def _sections(path, define: _List, kind: str) -> tuple[str, dict[str, list[_List]]]:
    head = define[1] if len(define) > 1 else None
    if not isinstance(head, list) or len(head) != 2 or head[0] != kind:
        raise _error(path, define.line, f"expected ({kind} <name>) after define")
    sections: dict[str, list[_List]] = {}
    for sec in define[2:]:
        if not isinstance(sec, list) or not sec or not isinstance(sec[0], str) or not sec[0].startswith(":"):
            raise _error(path, sec.line, f"expected a (:section ...), got {sec!s}")
        sections.setdefault(sec[0], []).append(sec)
    return head[1], sections


def _check_formula(path, f, arity: dict[str, int], args: set[str], kind: str) -> None:
    if not isinstance(f, list) or not f or not isinstance(f[0], str):
        raise _error(path, getattr(f, "line", 0), f"expected a formula, got {f!s}")
    if f[0] == "and":
        for g in f[1:]:
            _check_formula(path, g, arity, args, kind)
        return
    if f[0] == "not":
        if len(f) != 2:
            raise _error(path, f.line, "(not ...) takes exactly one formula")
        _check_formula(path, f[1], arity, args, kind)
        return
    name = f[0]
    if name not in arity:
        raise _error(path, f.line, f"unknown predicate '{name}'")
    if len(f) - 1 != arity[name]:
        raise _error(path, f.line, f"predicate '{name}' takes {arity[name]} argument(s), got {len(f) - 1}")
    for a in f[1:]:
        if not isinstance(a, str) or a not in args:
            raise _error(path, f.line, f"unknown {kind} '{a!s}' in ({' '.join(map(str, f))})")


def check_domain(path: str | Path) -> None:
    """Raise ``ValueError("<file>:<line>: ...")`` if the domain file is malformed."""
    define = _read_sexpr(path)
    _, sections = _sections(path, define, "domain")
    known = {":requirements", ":types", ":constants", ":predicates", ":action"}
    for key, secs in sections.items():
        if key not in known:
            raise _error(path, secs[0].line, f"unknown domain section '{key}'")
    if ":predicates" not in sections:
        raise _error(path, define.line, "missing (:predicates ...)")
    arity = {}
    for pred in sections[":predicates"][0][1:]:
        if not isinstance(pred, list) or not pred or not isinstance(pred[0], str) or pred[0].startswith("?"):
            raise _error(path, getattr(pred, "line", 0), f"malformed predicate declaration {pred!s}")
        arity[pred[0]] = sum(isinstance(t, str) and t.startswith("?") for t in pred[1:])
    for act in sections.get(":action", []):
        fields = dict(zip(act[2::2], act[3::2], strict=False))
        for key in (":parameters", ":precondition", ":effect"):
            if key not in fields:
                raise _error(path, act.line, f"action '{act[1] if len(act) > 1 else '?'}' lacks {key}")
        params = {t for t in fields[":parameters"] if isinstance(t, str) and t.startswith("?")}
        _check_formula(path, fields[":precondition"], arity, params, "parameter")
        _check_formula(path, fields[":effect"], arity, params, "parameter")


def check_problem(path: str | Path, domain_name: str, arity: dict[str, int]) -> None:
    """Raise ``ValueError("<file>:<line>: ...")`` if the problem file is malformed for the domain."""
    define = _read_sexpr(path)
    _, sections = _sections(path, define, "problem")
    for key in (":domain", ":objects", ":init", ":goal"):
        if key not in sections:
            raise _error(path, define.line, f"missing ({key} ...)")
    dom = sections[":domain"][0]
    if len(dom) != 2 or dom[1] != domain_name:
        raise _error(path, dom.line, f"problem is for domain '{dom[1:]!s}', expected '{domain_name}'")
    toks = sections[":objects"][0][1:]
    objects = {t for k, t in enumerate(toks) if t != "-" and (k == 0 or toks[k - 1] != "-")}
    for lit in sections[":init"][0][1:]:
        _check_formula(path, lit, arity, objects, "object")
    goal = sections[":goal"][0]
    if len(goal) != 2:
        raise _error(path, goal.line, "(:goal ...) takes exactly one formula")
    _check_formula(path, goal[1], arity, objects, "object")


# Words of PDDLGym's messages that say nothing about where in the file the problem is.
_STOP = {"and", "not", "the", "for", "with", "file", "define", "error", "predicate", "argument", "in", "is"}


def _pddlgym_error(path, exc: Exception) -> ValueError:
    lines = Path(path).read_text().lower().splitlines()
    words = [w for w in re.findall(r"[a-z_][\w-]*", str(exc).lower()) if len(w) > 1 and w not in _STOP]
    for word in words:
        for lineno, text in enumerate(lines, 1):
            if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text.split(";", 1)[0]):
                return _error(path, lineno, f"PDDLGym rejected the file: {type(exc).__name__}: {exc}")
    return _error(path, 1, f"PDDLGym rejected the file (line unknown): {type(exc).__name__}: {exc}")


def load_domain(path: str | Path) -> PDDLDomainParser:
    """Checked PDDLGym parse of a domain (operators as actions)."""
    check_domain(path)
    try:
        return PDDLDomainParser(str(path), expect_action_preds=False, operators_as_actions=True)
    except Exception as exc:  # PDDLGym raises bare AssertionError/AttributeError/IndexError
        raise _pddlgym_error(path, exc) from exc


def load_problem(path: str | Path, domain: PDDLDomainParser) -> PDDLProblemParser:
    """Checked PDDLGym parse of a problem for ``domain``."""
    check_problem(path, domain.domain_name, {name: p.arity for name, p in domain.predicates.items()})
    try:
        return PDDLProblemParser(
            str(path), domain.domain_name, domain.types, domain.predicates, domain.actions, domain.constants
        )
    except Exception as exc:
        raise _pddlgym_error(path, exc) from exc


class _PDDLEnv(PDDLEnv):
    """``PDDLEnv`` that skips derived-literal bookkeeping when the domain has no derived predicates."""

    def _handle_derived_literals(self, state):
        # Half of PDDLGym's step time: it adds negated literals for all groundings, then finds none.
        if any(p.is_derived for p in self.domain.predicates.values()):
            return super()._handle_derived_literals(state)
        return state


def make_pddl_env(domain_file: str | Path, problem_dir: str | Path) -> PDDLEnv:
    """PDDLGym env that raises on invalid actions; ``problem_dir`` may start empty."""
    domain = load_domain(domain_file)
    for problem_file in sorted(Path(problem_dir).glob("*.pddl")):
        load_problem(problem_file, domain)
    try:
        return _PDDLEnv(
            str(domain_file),
            str(problem_dir),
            operators_as_actions=True,
            raise_error_on_invalid_action=True,
            dynamic_action_space=False,
        )
    except Exception as exc:
        raise _pddlgym_error(domain_file, exc) from exc
