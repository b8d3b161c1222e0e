"""Typed experiment specs: pydantic models whose errors become one line naming the dotted key.

Every kind's spec is a `SpecModel` (strict types, unknown keys refused, no NaN or inf), each field with a
one-line help (`spec_field`). `explain` turns a pydantic `ValidationError` into the `SpecError` the CLI
prints: the dotted key (``dqn.epsilon[1]``), what was wrong, and, for unknown keys and names, the closest
valid spelling (case-insensitive). `describe` lists every key with type, default, range and help
(`nsrl spec KIND`).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, ValidationError


class SpecError(ValueError):
    """A user mistake in an experiment spec or command line (exit code 2, no traceback)."""


class SpecModel(BaseModel):
    """Base of every spec section: strict types, unknown keys are errors, floats must be finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=False)


def spec_field(default: Any = ..., help: str = "", **constraints) -> Any:  # noqa: A002
    """A spec field with its one-line help (`description`) and range (`ge`, `le`, `min_length`, ...)."""
    if isinstance(default, (list, dict)):
        value = default
        return pydantic.Field(default_factory=lambda: _copy(value), description=help, **constraints)
    return pydantic.Field(default, description=help, **constraints)


def section(model: type[SpecModel], help: str = "") -> Any:  # noqa: A002
    """A nested section with every default filled in."""
    return pydantic.Field(default_factory=model, description=help)


def _copy(value):
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def distinct(values: list) -> list:
    """After-validator: no value listed twice."""
    if len(set(map(repr, values))) != len(values):
        raise ValueError("listed twice")
    return values


# --- errors -------------------------------------------------------------------------------------------


def dotted(loc: tuple) -> str:
    """('dqn', 'epsilon', 1) → 'dqn.epsilon[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "spec"


def _hint(value: Any, valid: list[str]) -> str:
    """' (did you mean 'X'?)' for the closest valid spelling, ignoring case; '' when none is close."""
    text = str(value)
    lower = {v.lower(): v for v in valid}
    if text.lower() in lower:
        return f" (did you mean {lower[text.lower()]!r}?)"
    close = difflib.get_close_matches(text.lower(), list(lower), n=1)
    return f" (did you mean {lower[close[0]]!r}?)" if close else ""


def _unwrap(annotation):
    """The model class or Literal inside Optional/list annotations, following the path's list indices."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _annotation_at(model: type[BaseModel], loc: tuple):
    """The annotation of the field at `loc` (None when the path leaves the models)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return None
            current = typing.get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
    return _unwrap(current)


_TYPE_NAMES = {
    "float": "float",
    "int": "int",
    "string": "str",
    "bool": "bool",
    "list": "list",
    "dict": "mapping",
    "model": "mapping",
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _got(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return repr(value)
    return f"{type(value).__name__} {value!r}"


def _message(model: type[BaseModel], err: dict) -> str:
    loc, kind, value, ctx = tuple(err["loc"]), err["type"], err.get("input"), err.get("ctx") or {}
    key = dotted(loc)
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        parent = _annotation_at(model, loc[:-1])
        is_model = isinstance(parent, type) and issubclass(parent, BaseModel)
        valid = list(parent.model_fields) if is_model else []
        return f"{key}: unknown key{_hint(loc[-1], valid)}; valid keys: {', '.join(valid)}"
    if kind == "literal_error":
        ann = _annotation_at(model, loc)
        valid = [str(a) for a in typing.get_args(ann)] if typing.get_origin(ann) is Literal else []
        more = _hint(value, valid)
        if str(value).count("(") != str(value).count(")"):
            more = ' (YAML splits an unquoted [a, b] list at commas: quote names like "SymDQN(AR,AF)")'
        return f"{key}: unknown value {value!r}{more}; valid: {', '.join(valid)}"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        op, name = bounds[kind]
        return f"{key}: must be {op} {ctx.get(name)}, got {value!r}"
    if kind == "finite_number":
        return f"{key}: must be a finite number, got {value!r}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{key}: must not be empty"
    if kind == "too_short":
        return f"{key}: needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"{key}: takes at most {ctx.get('max_length')} item(s)"
    if kind.endswith("_type") and kind[: -len("_type")] in _TYPE_NAMES:
        want = _TYPE_NAMES[kind[: -len("_type")]]
        if want == "mapping":
            return f"{key}: must be a mapping, got {type(value).__name__}"
        more = ""
        if want in ("float", "int") and isinstance(value, str) and _NUMBER.match(value.strip()):
            more = f" (YAML reads {value} as a string: write it with a decimal point, e.g. 1.0e-4)"
        elif want == "int" and isinstance(value, float) and not isinstance(value, bool):
            more = " (a whole number)"
        return f"{key}: must be {want}, got {_got(value)}{more}"
    if kind == "value_error":
        text = str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
        return f"{key}: {text}"
    return f"{key}: {err['msg']}"


def explain(model: type[BaseModel], err: ValidationError) -> SpecError:
    """The first error of `err` (validating `model`) as a one-line `SpecError`."""
    return SpecError(_message(model, err.errors(include_url=False)[0]))


def check(model: type[BaseModel], data: Any) -> dict:
    """Validate `data` against `model`; the plain dict with every default filled in, or a `SpecError`."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SpecError(f"spec: must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data)).model_dump(mode="python")
    except ValidationError as err:
        raise explain(model, err) from None


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """`override` on top of `base`, recursively for nested mappings."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# --- description (`nsrl spec KIND`) ----------------------------------------------------------------


def _type_text(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_text(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_text(typing.get_args(annotation)[0])
    if origin is list:
        return f"list[{_type_text(typing.get_args(annotation)[0])}]"
    if origin is dict:
        return "mapping"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _range_text(info) -> str:
    parts = []
    for meta in info.metadata:
        for name, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "len >=")):
            value = getattr(meta, name, None)
            if value is not None:
                parts.append(f"{op} {value}")
    return ", ".join(parts)


def describe(model: type[BaseModel], prefix: str = "") -> list[dict]:
    """One row per key (nested sections flattened to dotted keys): key, type, default, range, help."""
    rows = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = _unwrap(info.annotation)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.append({"key": key, "type": "section", "default": "", "range": "", "help": info.description})
            rows += describe(ann, key + ".")
            continue
        default = info.get_default(call_default_factory=True)
        rows.append(
            {
                "key": key,
                "type": _type_text(info.annotation),
                "default": "(required)" if info.is_required() else repr(default),
                "range": _range_text(info),
                "help": info.description or "",
            }
        )
    return rows
