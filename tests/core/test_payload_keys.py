"""Payload keys: generators declare what they produce, sinks and post-processors what they
need, and ``resolve()`` refuses a pair that cannot work before any model loads.

The declarations are checked against the code: every example recipe runs on the fake
backend and each accepted record must carry the keys its generator declares as always
present, and (for a generator that passes no item fields through) no key it does not
declare at all.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import instructgen
from instructgen import GeneratorPlugin, Reject, SinkPlugin, hookimpl
from instructgen.backend import LLMRequest
from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.canonical import converter
from instructgen.cli import main
from instructgen.errors import RecipeError
from instructgen.plan import payload_keys
from instructgen.plugin import BuildContext, Generator, PayloadKeys, Sink
from instructgen.plugins.edits import BUILTIN_RULE_TYPES, EDIT_TYPES
from instructgen.records import OutputRecord

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (REPO / "examples").glob("*/*.toml")
                  if "plugin-example" not in str(p))
#: Keys of every ``edit_rules`` record besides its rule's own.
RULE_COMMON = {"edit_type", "edit", "input", "output", "derived_from"}
#: Each rule-derived type's own keys, read off its payload class.
RULE_KEYS = {t.name: PayloadKeys(t.payload.keys().always - RULE_COMMON, t.payload.keys().may)
             for t in BUILTIN_RULE_TYPES}
ITEM_KEYS = {"image_file", "url"}


def _recipe(path: Path, out: Path, **over: Any) -> dict[str, Any]:
    recipe = tomllib.loads(path.read_text())
    recipe.update(backend={"name": "fake"}, output_dir=str(out), cache={"enabled": False})
    recipe.update(over)
    return recipe


def _run(recipe: dict[str, Any], backend: FakeBackend) -> list[OutputRecord]:
    cwd = Path.cwd()
    os.chdir(REPO)  # example recipes name their data relative to the repository
    try:
        instructgen.run(recipe, backend=backend, autoload=False)
    finally:
        os.chdir(cwd)
    lines = (Path(recipe["output_dir"]) / "records.jsonl").read_text().splitlines()
    return [converter.structure(json.loads(x), OutputRecord) for x in lines]


def _declared(recipe: dict[str, Any]) -> tuple[PayloadKeys, Any]:
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        the_plan, _ = instructgen.api.plan(recipe, autoload=False, prepare_backend=False)
    finally:
        os.chdir(cwd)
    assert the_plan.context is not None
    keys = payload_keys(the_plan.generator, the_plan.context)
    assert keys is not None, f"builtin generator {the_plan.generator.spec.name} declares no keys"
    return keys, the_plan


def _check_records(keys: PayloadKeys, records: list[OutputRecord]) -> None:
    for rec in records:
        have = set(rec.data)
        assert keys.always <= have, (rec.id, sorted(keys.always - have))
        if not keys.open:
            assert have <= keys.always | keys.may, (rec.id, sorted(have - keys.always - keys.may))


def _check_each_type(the_plan: Any, records: list[OutputRecord]) -> None:
    """Tighter than the union: each record against its own edit type's keys."""
    name = the_plan.generator.spec.name
    if name == "edit_rules":
        for rec in records:
            own = RULE_KEYS[rec.data["edit_type"]]
            have = set(rec.data) - RULE_COMMON - ITEM_KEYS
            assert own.always <= have <= own.always | own.may, (rec.id, sorted(have))
    elif name == "edit" and the_plan.generator.options.turns == 1:
        types = the_plan.context.catalog(EDIT_TYPES)
        for rec in records:
            fields = set(types[rec.data["edit_type"]].fields)
            assert fields <= set(rec.data), (rec.id, sorted(fields - set(rec.data)))


def _asked(request: LLMRequest) -> str:
    caption = next(m.content for m in reversed(request.messages) if m.role == "user")
    return caption.removeprefix("Caption: ")


def _replace_edit(request: LLMRequest) -> str:
    """A valid replace edit of the caption the request names (its last word replaced)."""
    caption = _asked(request)
    words = caption.rstrip(".").split()
    new = next(w for w in ("lamp", "vase", "drum", "globe") if w not in caption.lower())
    return json.dumps({"edit": f"Replace the {words[-1]} with a {new}.",
                       "edited_object": words[-1], "new_object": new,
                       "output": " ".join([*words[:-1], new]) + "."})


def _text_edit(request: LLMRequest) -> str:
    """A valid textual_change: the caption's quoted text, each word spelt backwards."""
    caption = _asked(request)
    match = re.search(r'"([^"]+)"', caption)
    assert match, caption
    before = match.group(1)
    after = " ".join(w[::-1].capitalize() for w in before.split())
    return json.dumps({"edit": f'Change the text "{before}" to "{after}".',
                       "text_before": before, "text_after": after,
                       "output": caption.replace(f'"{before}"', f'"{after}"')})


#: Examples whose edits the fake backend's own answers never pass: a scripted answer
#: (and, for the chain, a type it can answer) so their records are checked too.
#: The scripts write whole edit answers, which only the model path asks for (compose =
#: auto, the default, lets rules write the edit; test_rules_path_records_... covers it).
SCRIPTED = {
    "multi_turn": ({"types": ["replace"], "global_last": False, "compose": "model"},
                   _replace_edit),
    # replace's new_object is the model's own word: the fake's random text rarely fits it.
    "single": ({"compose": "model"}, _replace_edit),
    "textual": ({"compose": "model"}, _text_edit),
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_example_records_carry_the_declared_keys(path: Path, tmp_path: Path) -> None:
    recipe = _recipe(path, tmp_path / "out")
    generator_over, responder = SCRIPTED.get(path.stem, ({}, None))
    recipe["generator"] = {**recipe["generator"], **generator_over}
    keys, the_plan = _declared(recipe)
    records = _run(recipe, FakeBackend(FakeOptions(), responder=responder))
    assert records, f"{path.name} wrote no record to check"
    _check_records(keys, records)
    _check_each_type(the_plan, records)
    if path.stem == "multi_turn":
        assert all(r.data["edit_type"] == "multi_turn" for r in records)
        assert "turns" in keys.always and "edited_object" not in keys.always | keys.may


def test_every_rule_type_writes_the_common_keys_and_its_own() -> None:
    for rtype in BUILTIN_RULE_TYPES:
        keys = rtype.payload.keys()
        assert RULE_COMMON - {"edit_type"} <= keys.always, rtype.name
        assert keys.always - RULE_COMMON, f"{rtype.name} declares no key of its own"
    # An optional field is "may": a plain relation move has no target_object.
    relation = next(t for t in BUILTIN_RULE_TYPES if t.name == "relation").payload.keys()
    assert "target_object" in relation.may and "direction" in relation.always


def test_payload_keys_of_a_class_read_its_fields() -> None:
    import attrs

    @attrs.frozen(kw_only=True)
    class Shape:
        a: str
        b: int = 3
        c: str | None = None

    assert PayloadKeys.of(Shape) == PayloadKeys({"a", "b"}, {"c"})
    with pytest.raises(TypeError, match="not an attrs class"):
        PayloadKeys.of(dict)


def test_material_change_records_carry_its_declared_keys() -> None:
    """The one rule no example recipe reaches, applied to a remove record directly."""
    import random

    from instructgen.plugins.edits.rules import RuleContext, RulesOptions
    from instructgen.records import SourceItem

    item = SourceItem(id="r1", data={"edit_type": "remove", "edited_object": "chair",
                                     "input": "A chair next to a table.",
                                     "output": "A table."})
    rtype = next(t for t in BUILTIN_RULE_TYPES if t.name == "material_change")
    made = rtype.rule(RuleContext(item, None, random.Random(1), RulesOptions()))
    assert made is not None
    own = RULE_KEYS["material_change"]
    have = set(made.payload()) - RULE_COMMON
    assert own.always <= have <= own.always | own.may, sorted(have)


def test_declared_keys_follow_the_options(registry) -> None:
    ctx = BuildContext(registry, "generator")
    edit = registry.get("generator", "edit", where="generator.name")
    def produces(**options: Any) -> PayloadKeys:
        return edit.produces(edit.prepare(edit.options(**options), ctx), ctx)

    one = produces(types=["replace"])
    assert {"edit", "edited_object", "new_object", "prefilter"} <= one.always
    mixed = produces(types=["replace", "add"])
    assert "edited_object" in mixed.always and "new_object" in mixed.may
    chain = produces(types=["replace"], turns=2)
    assert "turns" in chain.always and "edit" not in chain.always | chain.may
    csv = registry.get("sink", "csv", where="sink.name")
    assert csv.needs(csv.options(layout="concept_pair")) == {"concepts", "caption"}
    assert csv.needs(csv.options()) == frozenset()


def test_one_of_and_lacks() -> None:
    a, b = PayloadKeys({"x", "y"}, {"m"}), PayloadKeys({"x", "z"})
    both = PayloadKeys.one_of([a, b])
    assert both == PayloadKeys({"x"}, {"y", "z", "m"})
    assert both.lacks(["x", "m", "q", "a"]) == ["a", "q"]
    assert PayloadKeys({"x"}, open=True).lacks(["q"]) == []
    with pytest.raises(ValueError, match="both always and may"):
        PayloadKeys({"x"}, {"x"})


# -- refusals at validate ---------------------------------------------------------------


def _write(tmp_path: Path, recipe: str) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(recipe.format(repo=REPO.as_posix(), out=(tmp_path / "out").as_posix()))
    return path


C2CAP = """
output_dir = "{out}"
[source]
name = "concept_pool"
path = "{repo}/examples/concepts/pool.json"
[generator]
name = "c2cap"
[backend]
name = "fake"
[sink]
name = "{sink}"
"""


@pytest.mark.reliability(
    failure="a sink (or post-processor) that needs payload keys the generator never produces",
    user_sees="one line: `sink.name: anyedit needs the payload key 'edit_type' that generator "
              "c2cap does not produce`",
    exit_code=2, kept="nothing is run; no output directory is created")
def test_validate_refuses_a_sink_the_generator_cannot_feed(tmp_path, capsys) -> None:
    path = _write(tmp_path, C2CAP.replace("{sink}", "anyedit"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("instructgen: error: sink.name: anyedit needs the payload key 'edit_type' "
                   "that generator c2cap does not produce")
    assert main(["run", str(path), "--no-progress"]) == 2
    assert "sink.name: anyedit needs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_bad_reader_is_named_in_one_line(tmp_path, capsys) -> None:
    path = _write(tmp_path, C2CAP.replace("{sink}", "anyedit_implicit")
                  + '[[postprocess]]\nname = "dedup"\nfield = "text"\n')
    assert main(["validate", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "postprocess[0].name: dedup needs the payload key 'text' that generator c2cap" in line
    assert ("sink.name: anyedit_implicit needs the payload keys 'instruction', 'keywords', "
            "'original_caption', 'target_caption' that generator c2cap does not produce") in line


@pytest.mark.parametrize("sink", ["jsonl", "csv", "parquet"])
def test_a_good_pair_passes(tmp_path, capsys, sink) -> None:
    path = _write(tmp_path, C2CAP.replace("{sink}", sink))
    assert main(["validate", str(path)]) == 0
    assert re.search(r": ok \(.*sink=" + sink, capsys.readouterr().out)


class _Shout(Generator):
    async def generate(self, item, ctx):  # type: ignore[no-untyped-def]
        raise Reject("unused", "never run")


class _Plugin:
    """A third-party generator that declares no keys, and a sink that needs one."""

    @hookimpl
    def instructgen_generators(self) -> Iterator[GeneratorPlugin]:
        yield GeneratorPlugin(name="shout", description="x", factory=lambda o: _Shout())

    @hookimpl
    def instructgen_sinks(self) -> Iterator[SinkPlugin]:
        yield SinkPlugin(name="needy", description="x", factory=lambda o: Sink(),
                         needs=lambda o: frozenset({"shouted"}))


def test_undeclared_generators_are_not_refused(registry_with) -> None:
    registry = registry_with(_Plugin())
    recipe = {"source": {"name": "concept_pool", "path": f"{REPO}/examples/concepts/pool.json"},
              "generator": {"name": "shout"}, "backend": {"name": "fake"},
              "sink": {"name": "anyedit"}, "output_dir": "unused"}
    the_plan, _ = instructgen.api.plan(recipe, registry=registry)
    assert the_plan.sink is not None and the_plan.sink.spec.name == "anyedit"
    # A declared generator still meets a third-party sink's declared needs.
    with pytest.raises(RecipeError, match="needy needs the payload key 'shouted' that "
                                          "generator c2cap does not produce"):
        instructgen.api.plan({**recipe, "generator": {"name": "c2cap"},
                              "sink": {"name": "needy"}}, registry=registry)


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.stem in SCRIPTED],
                         ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_rules_path_records_carry_the_declared_keys(path: Path, tmp_path: Path) -> None:
    """The rules path (the default) on the fake's own choices writes the declared keys too."""
    recipe = _recipe(path, tmp_path / "out")
    recipe["generator"] = {**recipe["generator"], "compose": "rules"}
    keys, _ = _declared(recipe)
    records = _run(recipe, FakeBackend(FakeOptions()))
    assert records, f"{path.name} wrote no record on the rules path"
    _check_records(keys, records)


def test_payload_of_writes_what_payload_keys_of_promises() -> None:
    import attrs

    from instructgen.plugin import payload_of

    @attrs.frozen(kw_only=True)
    class Shape:
        a: str
        c: str | None = None
        b: int | None

    assert list(payload_of(Shape(a="x", b=None))) == ["a", "b"]  # b is always written
    assert list(payload_of(Shape(a="x", c="y", b=1))) == ["a", "c", "b"]  # declared order
    keys = PayloadKeys.of(Shape)
    assert keys.always == {"a", "b"} and keys.may == {"c"}
    with pytest.raises(TypeError, match="not an attrs class"):
        payload_of({"a": 1})
