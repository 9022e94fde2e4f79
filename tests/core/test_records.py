"""Records round-trip through JSON, and the library keeps runs apart."""

from __future__ import annotations

import json

import pytest

import instructgen
from instructgen import Generator, GeneratorPlugin, LLMRequest, hookimpl
from instructgen.backend import BackendIdentity, Completion
from instructgen.canonical import from_json, to_json
from instructgen.errors import RecipeError
from instructgen.records import OutputRecord, Provenance, Rejection, SourceItem


def test_every_record_round_trips_through_json():
    prov = Provenance(recipe_hash="ab", plugins={"generator:x": "pkg 1.0"},
                      backend=BackendIdentity(name="fake", model="m", settings={"k": [1, 2]}),
                      seed=3, item_seed=99)
    samples = [
        SourceItem(id="7", data={"caption": "a cat"}, source="f.jsonl", extra={"url": "u"}),
        LLMRequest(messages=[("system", "s"), ("user", "u")], stop=["\n"], seed=5,
                   schema={"type": "object", "properties": {"b": {}, "a": {}}}),
        Completion(text='{"a":1}', parsed={"a": 1}, finish_reason="length",
                   prompt_tokens=4, completion_tokens=2),
        OutputRecord(id="7#0", item_id="7", generator="x", data={"caption": "c"},
                     provenance=prov, extra={"url": "u"}),
        Rejection(item_id="7", stage="judge", plugin="edit", reason="judge_no", raw="no"),
    ]
    for record in samples:
        line = to_json(record)
        assert "\n" not in line
        assert from_json(line, type(record)) == record
    # schema property order survives (it changes what a model writes)
    assert list(json.loads(to_json(samples[1]))["schema"]["properties"]) == ["b", "a"]


class _Upper(Generator):
    async def generate(self, item, ctx):
        answer = await ctx.ask(LLMRequest(messages=[("user", item.data["caption"])]))
        return [{"text": answer.text.upper()}]


class _UpperPlugin:
    @hookimpl
    def instructgen_generators(self):
        yield GeneratorPlugin(name="upper", description="Upper-cases answers",
                              factory=lambda o: _Upper())


def test_two_library_runs_with_different_plugins_do_not_interfere(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text('{"caption": "a red kite"}\n')

    def recipe(name):
        return {"source": {"name": "jsonl", "path": str(items)}, "generator": "upper",
                "backend": "fake", "output_dir": str(tmp_path / name),
                "cache": {"enabled": False}}

    first = instructgen.run(recipe("a"), plugins=[_UpperPlugin()], autoload=False)
    assert first.accepted == 1
    with pytest.raises(RecipeError, match="unknown generator 'upper'"):
        instructgen.run(recipe("b"), autoload=False)
    again = instructgen.run(recipe("c"), plugins=[_UpperPlugin()], autoload=False)
    assert again.accepted == 1
    assert (tmp_path / "a" / "records.jsonl").read_text().count("ECHO: A RED KITE") == 1
    assert not (tmp_path / "b").exists()
