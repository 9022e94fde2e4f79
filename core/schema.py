"""A small JSON-schema validator for the subset that constrained decoding uses.

Supported: ``type`` (object, array, string, integer, number, boolean, null, or
a list of them), ``properties``, ``required``, ``additionalProperties``
(bool), ``items``, ``minItems``, ``maxItems``, ``minLength``, ``maxLength``,
``pattern``, ``enum``, ``const``, ``minimum``, ``maximum``, ``anyOf``, ``allOf``
(every sub-schema must hold: how two patterns on one string are intersected).
Anything else is refused up front, so a schema never silently means less than
it says.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import SchemaError

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_KNOWN = {
    "type", "properties", "required", "additionalProperties", "items", "minItems",
    "maxItems", "minLength", "maxLength", "pattern", "enum", "const", "minimum",
    "maximum", "anyOf", "allOf", "title", "description", "$schema",
}


def check_schema(schema: Any, path: str = "$") -> None:
    """Raise :class:`SchemaError` naming the path of the first unusable part."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"schema {path}: expected an object, got {type(schema).__name__}")
    unknown = set(schema) - _KNOWN
    if unknown:
        raise SchemaError(f"schema {path}: unsupported keyword(s) {', '.join(sorted(unknown))}")
    types = schema.get("type")
    for t in [types] if isinstance(types, str) else types or []:
        if t not in _TYPES:
            raise SchemaError(f"schema {path}.type: unknown type {t!r}")
    props = schema.get("properties", {})
    if not isinstance(props, Mapping):
        raise SchemaError(f"schema {path}.properties: expected an object")
    for key, sub in props.items():
        check_schema(sub, f"{path}.properties.{key}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError(f"schema {path}.required: expected a list of names")
    missing = [r for r in required if r not in props]
    if props and missing:
        raise SchemaError(f"schema {path}.required: {missing} not in properties")
    if "items" in schema:
        check_schema(schema["items"], f"{path}.items")
    for key in ("anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            check_schema(sub, f"{path}.{key}[{i}]")
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except re.error as exc:
            raise SchemaError(f"schema {path}.pattern: {exc}") from None
    for key in ("minItems", "maxItems", "minLength", "maxLength"):
        if key in schema and (not isinstance(schema[key], int) or schema[key] < 0):
            raise SchemaError(f"schema {path}.{key}: expected a non-negative integer")


def validate(instance: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Return the problems with ``instance`` (empty when it is valid)."""
    errors: list[str] = []
    if "anyOf" in schema:
        if all(validate(instance, sub, path) for sub in schema["anyOf"]):
            errors.append(f"{path}: matches none of anyOf")
        return errors
    for sub in schema.get("allOf", []):
        errors.extend(validate(instance, sub, path))
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        ok = any(
            isinstance(instance, _TYPES[t]) and not (t in ("integer", "number")
                                                     and isinstance(instance, bool))
            for t in names
        )
        if not ok:
            return [f"{path}: expected {' or '.join(names)}, got {_json_type(instance)}"]
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not one of {schema['enum']!r}")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{path}: does not match {schema['pattern']!r}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors.extend(validate(item, schema["items"], f"{path}[{i}]"))
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing {key!r}")
        if schema.get("additionalProperties", True) is False:
            extra = sorted(set(instance) - set(props))
            if extra:
                errors.append(f"{path}: unexpected {', '.join(map(repr, extra))}")
        for key, sub in props.items():
            if key in instance:
                errors.extend(validate(instance[key], sub, f"{path}.{key}"))
    return errors


def parse_json(text: str, schema: Mapping[str, Any] | None = None) -> tuple[Any, str | None]:
    """Parse ``text`` as JSON and validate it; return ``(value, problem)``.

    Never evaluates anything: only :func:`json.loads`.
    """
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return None, f"not JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
    if schema is not None:
        problems = validate(value, schema)
        if problems:
            return value, "; ".join(problems[:3])
    return value, None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    for name, kinds in _TYPES.items():
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def narrow(
    schema: Mapping[str, Any],
    field: str,
    *,
    enum: Iterable[str] | None = None,
    pattern: str | None = None,
    max_length: int | None = None,
) -> dict[str, Any]:
    """A copy of the object ``schema`` whose property ``field`` is constrained further.

    Plugins write one schema per kind of answer; what depends on the item (the
    objects a caption names, the words a type must use) is added per request
    with this. ``enum`` replaces the field's values outright; ``pattern`` must
    match the whole value (write it anchored, ``^...$``: constrained decoders
    anchor patterns, :func:`validate` searches); ``max_length`` only ever
    lowers an existing bound. Every constraint is also checked by
    :func:`validate`, so backends without constrained decoding reject the same
    answers.
    """
    props = schema.get("properties")
    if not isinstance(props, Mapping) or field not in props:
        raise SchemaError(f"schema: no property {field!r} to narrow")
    out = copy.deepcopy(dict(schema))
    # A fresh dict: deepcopy keeps one sub-schema shared by two properties shared.
    sub = out["properties"][field] = dict(out["properties"][field])
    if enum is not None:
        values = list(dict.fromkeys(enum))
        if not values:
            raise SchemaError(f"schema: empty enum for {field!r}")
        sub["enum"] = values
    if pattern is not None:
        if not (pattern.startswith("^") and pattern.endswith("$")):
            raise SchemaError(f"schema: pattern for {field!r} must be anchored (^...$)")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SchemaError(f"schema: pattern for {field!r}: {exc}") from None
        sub["pattern"] = pattern
    if max_length is not None:
        sub["maxLength"] = min(max_length, sub.get("maxLength", max_length))
    return out


#: A character that cannot be part of a word: what separates words in patterns
#: (constrained decoders have no ``\b``).
NON_WORD = "[^A-Za-z0-9]"


def alternation(phrases: Iterable[str], *, capital: bool = False) -> str:
    """A regex group matching any of ``phrases`` literally, longest first.

    ``capital``: the first letter may also be upper case ("Add" or "add"), as
    at the start of a sentence; written as a class, since not every
    constrained decoder supports ``(?i)``.
    """
    items = sorted({p for p in phrases if p}, key=lambda p: (-len(p), p))
    if not items:
        raise ValueError("alternation of no phrases")
    parts = []
    for p in items:
        head, rest = p[0], literal(p[1:])
        if capital and head.isalpha() and head.lower() != head.upper():
            parts.append(f"[{head.upper()}{head.lower()}]{rest}")
        else:
            parts.append(literal(head) + rest)
    return "(?:" + "|".join(parts) + ")"


_META = re.compile(r"([.^$*+?()\[\]{}|\\])")


def literal(text: str) -> str:
    """``text`` as a regex matching itself; escapes only regex metacharacters.

    Spaces, hyphens and apostrophes stay as they are, which both Python's
    ``re`` and llguidance read literally (``re.escape`` writes ``\\ ``).
    """
    return _META.sub(r"\\\1", text)


def contains_pattern(phrases: Iterable[str]) -> str:
    """An anchored pattern: the value names one of ``phrases`` as whole words."""
    return f"^(?:.*{NON_WORD})?{alternation(phrases)}(?:{NON_WORD}.*)?$"
