"""Turn pydantic errors on a YAML file into `PATH:LINE:COL: field: message` problems.

Every input file goes through it: portfolio.yaml (generator/model/config.py adds its rules across
fields), the cost command's usage file and its price list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from generator.model.problems import InputError, Loc, Problem
from generator.model.yamlsource import Source

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "missing required field",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}
_LIMITS = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
}


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model that describes the mapping at `loc`, to list its keys for an unknown one."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in current.model_fields.items()}
        if str(part) not in fields:
            return None
        annotation = fields[str(part)].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        found = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        for candidate in candidates:
            found += [
                inner
                for inner in getattr(candidate, "__args__", ())
                if isinstance(inner, type) and issubclass(inner, BaseModel)
            ]
        if not found:
            return None
        current = found[0]
    return current


def describe(error: dict[str, Any], model: type[BaseModel], source: Source) -> str:
    """One clear sentence, with the fix where there is one, for a pydantic error."""
    kind, loc = error["type"], tuple(error["loc"])
    if kind in _LIMITS:
        return _LIMITS[kind].format(**error.get("ctx", {}))
    if kind == "extra_forbidden":
        inner = _model_at(model, loc[:-1])
        allowed = sorted(f.alias or n for n, f in inner.model_fields.items()) if inner else []
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown field {loc[-1]!r}{hint}"
    if kind == "literal_error" and loc == ("schema",):
        return (
            f"unsupported schema {error['input']!r}; "
            f"this version of labcatalog reads {error['ctx']['expected']}"
        )
    if kind == "literal_error":
        return f"{error['input']!r} is not one of {error['ctx']['expected']}"
    if kind == "string_type" and loc in source.raw and not isinstance(error["input"], str):
        return f"must be text; quote it in YAML: '{source.raw[loc]}'"
    number = re.fullmatch(r"-?\d+(\.\d+)?", str(error["input"]))
    if kind in ("int_type", "float_type") and isinstance(error["input"], str) and number:
        return f"{_MESSAGES[kind]}; write it without quotes"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return _MESSAGES.get(kind, error["msg"][:1].lower() + error["msg"][1:])


Describe = Callable[[dict[str, Any], Source], str]


def type_problems(
    source: Source, model: type[M], start: str, describe_error: Describe | None = None
) -> tuple[M | None, list[Problem]]:
    """`source` as a `model` (None if it is not one) and every problem with its place in the file.

    `start` is the first line the file must have (its schema); `describe_error` may word some
    errors better for one model and fall back to `describe`.
    """
    problems: list[Problem] = list(source.problems)
    if not isinstance(source.data, dict):
        problems.append(source.problem((), f"the file must be a mapping that starts with: {start}"))
        return None, problems
    try:
        value = model.model_validate(source.data)
    except ValidationError as err:
        # A value YAML already could not read (bad tag, impossible date) is reported once.
        reported = {(p.line, p.column) for p in problems}
        for error in err.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "missing" and loc == ("schema",):
                message = f"missing required field; start the file with: {start}"
            elif describe_error is not None:
                message = describe_error(error, source)
            else:
                message = describe(error, model, source)
            problem = source.problem(loc, message, at_key=error["type"] == "extra_forbidden")
            if (problem.line, problem.column) not in reported:
                problems.append(problem)
        return None, problems
    return value, problems


def validate(source: Source, model: type[M], start: str) -> M:
    """`source` as a `model`, or `InputError` listing every problem with its place in the file."""
    value, problems = type_problems(source, model, start)
    if value is None or problems:
        raise InputError(problems)
    return value
