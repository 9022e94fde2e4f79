"""Describe plugins and their options for humans: the CLI table and the docs.

Option help comes from ``#:`` comments above each attrs field, so the recipe
reference is generated from the code and cannot drift from it.
"""

from __future__ import annotations

import inspect
import re
import typing
from functools import cache
from typing import TYPE_CHECKING, Any

import attrs

from .plugin import PluginSpec

if TYPE_CHECKING:
    from .manager import PluginRegistry

_FIELD = re.compile(r"^\s{4}(\w+)\s*:")


@cache
def option_comments(cls: type) -> dict[str, str]:
    """``{field: help}`` from the ``#:`` comment lines just above each field."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not attrs.has(klass):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            m = _FIELD.match(line)
            if m and pending:
                out[m.group(1)] = " ".join(pending)
            pending = []
    return out


def type_name(tp: Any) -> str:
    """A readable type: ``list[str]``, ``int | None``, ``'a' | 'b'``."""
    if isinstance(tp, str):
        return tp
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def describe_options(cls: type) -> list[dict[str, Any]]:
    """One row per option: name, type, default (or ``required``), help."""
    hints = typing.get_type_hints(cls) if attrs.has(cls) else {}
    helps = option_comments(cls)
    rows = []
    for f in attrs.fields(cls):
        if not f.init:
            continue
        if f.default is attrs.NOTHING:
            default: Any = "required"
            required = True
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            default = f.default.factory() if not f.default.takes_self else "(computed)"
            required = False
        else:
            default, required = f.default, False
        rows.append({
            "name": f.alias or f.name,
            "type": type_name(hints.get(f.name, f.type)),
            "default": _jsonable(default),
            "required": required,
            "help": helps.get(f.name, ""),
        })
    return rows


def describe_plugin(spec: PluginSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "dist": spec.dist,
        "version": spec.version,
        "description": spec.description,
        "options": describe_options(spec.options),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return _jsonable(attrs.asdict(value))
    return str(value)


# -- generated reference pages ------------------------------------------------------------

_KIND_TITLES = {
    "source": "Sources",
    "generator": "Generators",
    "postprocessor": "Post-processors",
    "sink": "Sinks",
    "backend": "Backends",
}


def render_recipe_reference(registry: PluginRegistry) -> str:
    """Markdown reference of every plugin's options, straight from the options classes."""
    from .recipe import CacheConfig, EngineConfig, Recipe

    out = [
        "# Recipe reference",
        "",
        "Generated from the code by `python docs/generate.py`; do not edit by hand.",
        "A test fails when this page and the plugins' options classes disagree.",
        "",
        "## Top level",
        "",
        _options_table(Recipe, skip={"source", "generator", "backend", "postprocess", "sink",
                                     "cache", "engine"}),
        "",
        "Stage tables: `[source]`, `[generator]`, `[backend]`, `[[postprocess]]` (a list), "
        "`[sink]`. Each takes `name` plus the options of that plugin, listed below. "
        "`[backend]` also takes `replicas` (`1`, `N` or `\"auto\"`) and `isolate` (`true` "
        "runs the backend in a worker process, so a crash in the model library ends the run "
        "with a message and exit code 4; see docs/backends.md).",
        "",
        "### `[cache]`",
        "",
        _options_table(CacheConfig),
        "",
        "### `[engine]`",
        "",
        _options_table(EngineConfig),
        "",
    ]
    for kind, title in _KIND_TITLES.items():
        out += [f"## {title}", ""]
        for spec in registry.plugins(kind).values():
            out += [f"### `{spec.name}`", "", f"{spec.description} *({spec.dist})*", ""]
            table = _options_table(spec.options)
            out += [table if table else "No options.", ""]
    return "\n".join(out).rstrip() + "\n"


def _options_table(cls: type, skip: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    rows = [r for r in describe_options(cls) if r["name"] not in skip]
    if not rows:
        return ""
    lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for r in rows:
        default = "*required*" if r["required"] else f"`{_toml(r['default'])}`"
        typ = r["type"].replace("|", "\\|")
        lines.append(f"| `{r['name']}` | {typ} | {default} | {r['help']} |")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    import json

    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False).replace("|", "\\|")


def render_hook_reference(registry: PluginRegistry) -> str:
    """Markdown reference of every hook the registry declares, from the hookspecs' docstrings.

    Core hooks come from ``instructgen.hookspecs``; a family's own hooks (added
    through ``instructgen_addhooks``) say which module declares them.
    """
    out = ["# Hook reference", "",
           "Generated from `instructgen.hookspecs` and the plugin families' own hookspecs "
           "by `python docs/generate.py`.",
           "Implement hooks with `instructgen.hookimpl`.", ""]
    for name, fn in sorted(registry.hookspecs().items()):
        sig = str(inspect.signature(fn)).replace("'", "")
        out += [f"## `{name}{sig}`", ""]
        if fn.__module__ != "instructgen.hookspecs":
            out += [f"Declared by `{fn.__module__}`, while that family is loaded.", ""]
        out += [_rst_to_markdown(inspect.getdoc(fn) or ""), ""]
    return "\n".join(out).rstrip() + "\n"


def _rst_to_markdown(doc: str) -> str:
    """Turn ``.. code-block:: python`` sections of a docstring into fenced blocks."""
    import textwrap

    text, sep, code = doc.partition(".. code-block:: python")
    if not sep:
        return doc
    return f"{text.rstrip()}\n\n```python\n{textwrap.dedent(code).strip()}\n```"
