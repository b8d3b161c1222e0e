"""A small declarative schema for experiment specs: types, ranges, choices, defaults.

Validation errors are `SpecError`s whose message names the offending dotted key (and, for
unknown keys, the closest valid spelling), so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class SpecError(ValueError):
    """A user mistake in an experiment spec or command line (exit code 2, no traceback)."""


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    item: Field | None = None  # for list fields
    min_len: int = 0
    check: Callable[[Any], str | None] | None = None  # extra check → error text or None
    required: bool = False


@dataclass(frozen=True)
class Section:
    fields: Mapping[str, Field | Section] = field(default_factory=dict)
    open: bool = False  # free-form mapping (values passed through untouched)


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _check_value(key: str, f: Field, value: Any) -> Any:
    if value is None:
        if f.nullable:
            return None
        raise SpecError(f"{key}: must be {_type_name(f.kind)}, got null")
    kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in kinds:
        raise SpecError(f"{key}: must be {_type_name(f.kind)}, got {value!r}")
    if not isinstance(value, kinds):
        raise SpecError(f"{key}: must be {_type_name(f.kind)}, got {type(value).__name__} {value!r}")
    if f.choices is not None and value not in f.choices:
        hint = difflib.get_close_matches(str(value), [str(c) for c in f.choices], n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        if str(value).count("(") != str(value).count(")"):
            more = " (YAML splits an unquoted [a, b] list at commas: quote names like \"SymDQN(AR,AF)\")"
        raise SpecError(f"{key}: unknown value {value!r}{more}; valid: {', '.join(map(str, f.choices))}")
    if f.min is not None and value < f.min:
        raise SpecError(f"{key}: must be >= {f.min}, got {value!r}")
    if f.max is not None and value > f.max:
        raise SpecError(f"{key}: must be <= {f.max}, got {value!r}")
    if isinstance(value, list):
        if len(value) < f.min_len:
            raise SpecError(f"{key}: needs at least {f.min_len} item(s)")
        if f.item is not None:
            value = [_check_value(f"{key}[{i}]", f.item, v) for i, v in enumerate(value)]
    if f.check is not None:
        problem = f.check(value)
        if problem:
            raise SpecError(f"{key}: {problem}")
    return value


def validate(section: Section, data: Any, prefix: str = "") -> dict:
    """Return `data` with defaults filled in; raise SpecError naming the first bad key."""
    where = prefix or "spec"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: must be a mapping, got {type(data).__name__}")
    if section.open:
        return dict(data)
    out: dict = {}
    for key in data:
        if key not in section.fields:
            hint = difflib.get_close_matches(str(key), list(section.fields), n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            valid = ", ".join(section.fields)
            raise SpecError(f"{prefix + '.' if prefix else ''}{key}: unknown key{more}; valid keys: {valid}")
    for name, f in section.fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(f, Section):
            out[name] = validate(f, data.get(name), key)
        elif name in data:
            out[name] = _check_value(key, f, data[name])
        elif f.required:
            raise SpecError(f"{key}: required key is missing")
        else:
            out[name] = f.default
    return out


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """`override` on top of `base`, recursively for nested mappings."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
