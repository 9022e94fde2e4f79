"""TOML recipes: reading, ``include``, ``--set`` overrides, and validation.

A recipe names one plugin per stage; each plugin's table holds ``name`` plus
that plugin's options, structured by cattrs into its options class::

    seed = 7
    output_dir = "runs/captions"

    [source]
    name = "jsonl"
    path = "captions.jsonl"

    [generator]
    name = "c2cap"
    max_words = 12

    [backend]
    include = "backend.toml"   # or at top level: include = ["shared.toml"]

Errors name the key path (``generator.types[2]``) and are :class:`RecipeError`.
Relative data paths are taken from the current directory; ``include`` paths
from the including file. :func:`instructgen.plan.resolve` turns a recipe into a
plan against a plugin registry.
"""

from __future__ import annotations

import copy
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
from attrs import field, frozen
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from .errors import RecipeError, did_you_mean

#: ``[backend]`` keys that belong to the runner, not the backend: how it runs, not what it says.
BACKEND_RUNTIME_KEYS = ("replicas", "isolate")

#: Keys that change how a run goes, not what it produces; left out of the recipe hash.
RUNTIME_KEYS = ("batch_size", "in_flight", "limit", "progress", "cache", "output_dir", "engine")


@frozen
class PluginRef:
    """A stage of the recipe: the plugin name and its raw options table."""

    name: str
    options: Mapping[str, Any] = field(factory=dict)


@frozen
class CacheConfig:
    """Where LLM calls are cached; ``path`` defaults to the user cache folder."""

    #: Look up and store every LLM call.
    enabled: bool = True
    #: SQLite file; default ``$XDG_CACHE_HOME/instructgen/calls.sqlite``.
    path: Path | None = None


def check_replicas(_inst: Any, _attr: Any, value: int | str) -> None:
    if value != "auto" and (not isinstance(value, int) or value < 1):
        raise ValueError(f"expected \"auto\" or a positive integer, got {value!r}")


@frozen
class EngineConfig:
    """Where the generation stage runs: in this process, or on a Ray cluster."""

    #: ``local`` (default) or ``ray``.
    kind: Literal["local", "ray"] = "local"
    #: Ray cluster address (``ray://host:10001``, ``auto``); none starts a local instance.
    ray_address: str | None = None
    #: Ray actors, each holding one backend.
    actors: int = field(default=2, validator=attrs.validators.ge(1))
    #: GPUs per actor; unset: 1 when the cluster has GPUs, else 0.
    actor_gpus: float | None = None
    #: Items per Ray block sent to an actor.
    items_per_task: int = field(default=64, validator=attrs.validators.ge(1))


@frozen
class Recipe:
    """A validated recipe. Plugin options are still raw; see :func:`resolve`."""

    #: Where items come from.
    source: PluginRef
    #: What turns an item into records.
    generator: PluginRef
    #: Run directory: records, rejects, manifest and resume state.
    output_dir: Path
    #: The model server; default: llama.cpp with the embedded SmolLM2 model.
    backend: PluginRef = PluginRef("llamacpp", {"model": "smollm2-135m-instruct"})
    #: Checks and rewrites applied to each record, in order.
    postprocess: tuple[PluginRef, ...] = ()
    #: Extra output format besides records.jsonl (e.g. anyedit, parquet).
    sink: PluginRef | None = None
    #: Run seed; every item's seed derives from it and the item's id.
    seed: int = 0
    #: Most requests per backend call.
    batch_size: int = field(default=16, validator=attrs.validators.ge(1))
    #: Items worked on at once; default ``2 * batch_size``.
    in_flight: int | None = None
    #: Stop after this many source items (resume and raising it continue the run).
    limit: int | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )
    #: Extra attempts, each with a new derived seed, for an answer that fails validation.
    max_retries: int = field(default=2, validator=attrs.validators.ge(0))
    #: Stop when more than this share of the last ``failure_window`` items fail.
    max_failure_share: float = field(default=0.5, validator=[attrs.validators.ge(0.0),
                                                            attrs.validators.le(1.0)])
    #: How many recent items the failure share is computed over.
    failure_window: int = field(default=200, validator=attrs.validators.ge(1))
    #: The LLM-call cache.
    cache: CacheConfig = CacheConfig()
    #: Where generation runs.
    engine: EngineConfig = EngineConfig()

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain data, defaults filled in: what manifests store."""
        data: dict[str, Any] = recipe_converter.unstructure(self)
        return data


def hashable_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe without the keys that cannot change records (see RUNTIME_KEYS)."""
    out = {k: v for k, v in raw.items() if k not in RUNTIME_KEYS}
    if isinstance(out.get("backend"), Mapping):
        out["backend"] = {k: v for k, v in out["backend"].items()
                          if k not in BACKEND_RUNTIME_KEYS}
    return out


# -- strict converter -----------------------------------------------------------------


def _strict(kind: type, *accept: type) -> Any:
    def hook(value: Any, _t: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise _TypeMismatch(kind, value)
        if not isinstance(value, accept):
            raise _TypeMismatch(kind, value)
        return kind(value)

    return hook


class _TypeMismatch(TypeError):
    def __init__(self, kind: type, value: Any) -> None:
        names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
                 Path: "a path string"}
        super().__init__(f"expected {names.get(kind, kind.__name__)}, got {value!r}")


def make_converter() -> cattrs.Converter:
    """A cattrs converter that refuses what TOML users get wrong: types and extra keys."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict(int, int))
    conv.register_structure_hook(float, _strict(float, int, float))
    conv.register_structure_hook(str, _strict(str, str))
    conv.register_structure_hook(bool, _strict(bool, bool))
    conv.register_structure_hook(Path, _strict(Path, str))
    conv.register_structure_hook(
        PluginRef, lambda v, _t: _plugin_ref(v)
    )
    conv.register_structure_hook_func(_is_choice_union, _choice_union)
    conv.register_unstructure_hook(Path, str)
    conv.register_unstructure_hook(PluginRef, lambda r: {"name": r.name, **r.options})
    return conv


_PLAIN = (bool, int, float, str)


def _is_choice_union(tp: Any) -> bool:
    """``Literal["auto"] | bool`` and the like: literal choices mixed with plain types."""
    if typing.get_origin(tp) not in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return False
    args = typing.get_args(tp)
    return (any(typing.get_origin(a) is Literal for a in args)
            and all(typing.get_origin(a) is Literal or a in _PLAIN for a in args))


def _choice_union(value: Any, tp: Any) -> Any:
    choices: list[Any] = []
    for arg in typing.get_args(tp):
        if typing.get_origin(arg) is Literal:
            if value in typing.get_args(arg) and type(value) in map(type, typing.get_args(arg)):
                return value
            choices += [repr(c) for c in typing.get_args(arg)]
        else:
            if type(value) is arg or (arg is float and type(value) is int):
                return arg(value)
            choices += {bool: ["true", "false"], int: ["an integer"], float: ["a number"],
                        str: ["a string"]}[arg]
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    raise TypeError(f"expected {listed}, got {value!r}")


def _plugin_ref(value: Any) -> PluginRef:
    if isinstance(value, str):
        return PluginRef(value)
    if not isinstance(value, Mapping):
        raise _TypeMismatch(dict, value)
    if "name" not in value:
        raise KeyError("name")
    name = value["name"]
    if not isinstance(name, str):
        raise _TypeMismatch(str, name)
    return PluginRef(name, {k: v for k, v in value.items() if k != "name"})


#: The converter recipes and plugin options are structured with (and plans unstructured).
recipe_converter = make_converter()


def structure_options(data: Mapping[str, Any], cls: type, where: str) -> Any:
    """Build ``cls`` from ``data``; a failure becomes one :class:`RecipeError`."""
    try:
        return recipe_converter.structure(dict(data), cls)
    except Exception as exc:  # cattrs wraps everything in its own exception groups
        raise RecipeError(format_errors(exc, where, cls)) from None


def format_errors(exc: BaseException, where: str, cls: type | None = None) -> str:
    """Flatten a cattrs error tree into ``path: message; path: message``."""
    lines: list[str] = []
    _walk(exc, where, cls, lines)
    return "; ".join(dict.fromkeys(lines)) or f"{where}: {exc}"


def _walk(exc: BaseException, path: str, cls: Any, out: list[str]) -> None:
    if isinstance(exc, ForbiddenExtraKeysError):
        known = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            out.append(f"{_join(path, key)}: unknown option{did_you_mean(key, known)}"
                       f" (valid: {', '.join(known) or 'none'})")
        return
    if isinstance(exc, ClassValidationError):
        with_notes, others = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(sub, KeyError):
                out.append(f"{_join(path, note.name)}: missing required option")
            else:
                _walk(sub, _join(path, note.name), note.type, out)
        for sub in others:
            _walk(sub, path, cls, out)
        return
    if isinstance(exc, IterableValidationError):
        at_index, unplaced = exc.group_exceptions()
        for sub, inote in at_index:
            _walk(sub, f"{path}[{inote.index}]", inote.type, out)
        for sub in unplaced:
            _walk(sub, path, None, out)
        return
    if isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            _walk(member, path, cls, out)
        return
    if isinstance(exc, KeyError):
        out.append(f"{_join(path, str(exc.args[0]))}: missing required option")
        return
    message = str(exc) or type(exc).__name__
    if cls is not None and "Literal" in str(cls) and "not in literal" in message:
        choices = typing.get_args(cls)
        message = f"expected one of {', '.join(map(repr, choices))}"
    out.append(f"{path}: {message}" if path else message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- loading ---------------------------------------------------------------------------


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read recipe ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: invalid TOML: {exc}") from None


def _with_includes(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise RecipeError(f"{path}: include cycle: {chain}")
    data = load_toml(path)
    return _expand(data, path, (*seen, path), "")


def _expand(data: dict[str, Any], path: Path, seen: tuple[Path, ...], where: str) -> dict[str, Any]:
    includes = data.pop("include", [])
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise RecipeError(f"{path}: {_join(where, 'include')}: expected a path or a list of paths")
    merged: dict[str, Any] = {}
    for inc in includes:
        merged = deep_merge(merged, _with_includes(path.parent / inc, seen))
    for key, value in data.items():
        if isinstance(value, dict):
            data[key] = _expand(value, path, seen, _join(where, key))
    return deep_merge(merged, data)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; anything else in ``top`` replaces ``base``."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=3`` → (["a", "b"], 3). Values are TOML; bare words are strings."""
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected KEY.PATH=VALUE")
    key, _, value = text.partition("=")
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise RecipeError(f"--set {text!r}: empty key in {key!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return parts, parsed


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for i, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise RecipeError(f"--set {text!r}: {'.'.join(parts[: i + 1])} is not a table")
            node = nxt
        node[parts[-1]] = value
    return data


def load_recipe(
    source: str | Path | Mapping[str, Any], overrides: Sequence[str] = ()
) -> Recipe:
    """Read, merge and validate a recipe from a TOML path or a mapping."""
    if isinstance(source, Mapping):
        data = _expand(copy.deepcopy(dict(source)), Path.cwd() / "<mapping>", (), "")
        label = "recipe"
    else:
        data = _with_includes(Path(source))
        label = str(source)
    data = apply_overrides(data, overrides)
    try:
        recipe = recipe_converter.structure(data, Recipe)
    except Exception as exc:
        raise RecipeError(f"{label}: {format_errors(exc, '', Recipe)}") from None
    return recipe
