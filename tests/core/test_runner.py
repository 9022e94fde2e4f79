"""The runner: batching across items, cache, retries, failures, determinism, hooks."""

from __future__ import annotations

import json

import pytest

from instructgen import Generator, GeneratorPlugin, InvalidOutput, LLMRequest, hookimpl
from instructgen.backends import FakeBackend, FakeOptions
from instructgen.errors import RunAborted, UserError
from instructgen.testing import run_recipe


def _items(tmp_path, n, key="caption"):
    path = tmp_path / "items.jsonl"
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({key: f"a small cat number {i}", "url": f"img/{i}.jpg"}) + "\n")
    return path


class TwoStep(Generator):
    """Ask, then ask again about the first answer (a judge-like dependent call)."""

    async def generate(self, item, ctx):
        first = await ctx.ask(LLMRequest(messages=[("user", item.data["caption"])]))
        second = await ctx.ask(LLMRequest(messages=[("user", "judge: " + first.text)]))
        return [{"first": first.text, "second": second.text}]


class Plugin:
    def __init__(self, gen_cls, name="two_step"):
        self.gen_cls, self.name = gen_cls, name

    @hookimpl
    def instructgen_generators(self):
        yield GeneratorPlugin(name=self.name, description="test generator",
                              factory=lambda o: self.gen_cls())


def _recipe(tmp_path, n=64, generator="two_step", **extra):
    return {
        "source": {"name": "jsonl", "path": str(_items(tmp_path, n)), "fields": ["caption"]},
        "generator": generator,
        "backend": "fake",
        "output_dir": str(tmp_path / "run"),
        **extra,
    }


def test_dependent_calls_of_many_items_share_full_batches(tmp_path):
    backend = FakeBackend()
    result = run_recipe(_recipe(tmp_path, batch_size=16, cache={"enabled": False}), tmp_path,
                        backend=backend, plugins=[Plugin(TwoStep)])
    sizes = [len(c) for c in backend.calls]
    assert len(sizes) <= 9
    assert all(s == 16 for s in sizes[:-1]) and sum(sizes) == 128
    assert result.summary.accepted == 64
    # each record answers its own item
    for rec in result.records:
        assert rec.data["first"].endswith(f"number {int(rec.item_id) - 1}")
        assert rec.extra == {"url": f"img/{int(rec.item_id) - 1}.jpg"}


@pytest.mark.parametrize("batch_size", [1, 5, 32])
def test_records_are_identical_whatever_the_batch_size(tmp_path, batch_size):
    schema = {"type": "object", "properties": {"caption": {"type": "string"}},
              "required": ["caption"]}

    class Seeded(Generator):
        async def generate(self, item, ctx):
            a = await ctx.ask(LLMRequest(messages=[("user", item.data["caption"])],
                                         schema=schema))
            pick = ctx.rng.choice(["x", "y", "z"])
            return [{"caption": a.parsed["caption"], "pick": pick, "seed": ctx.seed}]

    def go(bs, sub):
        recipe = _recipe(tmp_path, n=40, generator="seeded", batch_size=bs, seed=9,
                         output_dir=str(tmp_path / sub), cache={"enabled": False})
        run_recipe(recipe, tmp_path, plugins=[Plugin(Seeded, "seeded")])
        return (tmp_path / sub / "records.jsonl").read_bytes()

    assert go(batch_size, "a") == go(16, "b")


def test_cache_serves_a_rerun_and_a_prompt_change_misses_only_its_calls(tmp_path):
    class Prompted(Generator):
        async def generate(self, item, ctx):
            prefix = "LONG " if item.id == "3" and ctx.item.data.get("changed") else ""
            a = await ctx.ask(LLMRequest(messages=[("user", prefix + item.data["caption"])]))
            return [{"a": a.text}]

    cache = {"path": str(tmp_path / "c.sqlite")}
    first = FakeBackend()
    run_recipe(_recipe(tmp_path, n=10, generator="p", cache=cache), tmp_path,
               backend=first, plugins=[Plugin(Prompted, "p")])
    assert len(first.requests) == 10
    again = FakeBackend()
    r = run_recipe(_recipe(tmp_path, n=10, generator="p", cache=cache,
                           output_dir=str(tmp_path / "run2")), tmp_path,
                   backend=again, plugins=[Plugin(Prompted, "p")])
    assert again.requests == [] and r.summary.cache_hits == 10

    class Changed(Generator):
        async def generate(self, item, ctx):
            text = ("LONG " if item.id == "3" else "") + item.data["caption"]
            a = await ctx.ask(LLMRequest(messages=[("user", text)]))
            return [{"a": a.text}]

    third = FakeBackend()
    run_recipe(_recipe(tmp_path, n=10, generator="p", cache=cache,
                       output_dir=str(tmp_path / "run3")), tmp_path,
               backend=third, plugins=[Plugin(Changed, "p")])
    assert [r.messages[-1].content for r in third.requests] == ["LONG a small cat number 2"]


@pytest.mark.reliability(
    failure="a model answer that is not JSON, or that the plugin's validator refuses",
    user_sees="nothing at once: the call is retried with a new seed up to max_retries times, "
              "then the item is rejected as `invalid_output` (`not JSON …, after 3 attempts`)",
    exit_code=0,
    kept="the other items; the last raw answer in rejects.jsonl, for inspection")
def test_invalid_answers_are_retried_with_new_seeds_then_rejected_with_raw_text(tmp_path):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

    class Strict(Generator):
        async def generate(self, item, ctx):
            def check(c):
                if c.parsed["n"] < 0:
                    raise InvalidOutput("negative")
                return c.parsed["n"]

            n = await ctx.ask(LLMRequest(messages=[("user", item.data["caption"])],
                                         schema=schema), validate=check)
            return [{"n": n}]

    def responder(req):
        if req.messages[-1].content.endswith(" 0"):
            return "not json at all"
        if req.messages[-1].content.endswith(" 1"):
            return '{"n": -1}'
        return '{"n": 5}'

    backend = FakeBackend(responder=responder)
    result = run_recipe(_recipe(tmp_path, n=3, generator="strict", max_retries=2,
                                cache={"enabled": False}),
                        tmp_path, backend=backend, plugins=[Plugin(Strict, "strict")])
    assert [r.data for r in result.records] == [{"n": 5}]
    rej = {r.item_id: r for r in result.rejections}
    assert rej["1"].reason == "invalid_output" and rej["1"].raw == "not json at all"
    assert "not JSON" in rej["1"].detail and "after 3 attempts" in rej["1"].detail
    assert rej["2"].reason == "invalid_output" and "negative" in rej["2"].detail
    seeds = [r.seed for r in backend.requests if r.messages[-1].content.endswith(" 0")]
    assert len(seeds) == 3 and len(set(seeds)) == 3


@pytest.mark.reliability(
    failure="a generator plugin raising an exception on one item (a plugin bug)",
    user_sees="nothing at once: the item is rejected as `plugin_error` with the exception "
              "(`KeyError: 'oops'`) and the plugin's name in rejects.jsonl",
    exit_code=0, kept="every other item")
def test_a_plugin_exception_rejects_only_its_item(tmp_path):
    class Flaky(Generator):
        async def generate(self, item, ctx):
            if item.id == "2":
                raise KeyError("oops")
            a = await ctx.ask(LLMRequest(messages=[("user", "x")]))
            return [{"a": a.text}]

    result = run_recipe(_recipe(tmp_path, n=4, generator="flaky"), tmp_path,
                        plugins=[Plugin(Flaky, "flaky")])
    assert result.summary.accepted == 3
    (rej,) = result.rejections
    assert (rej.item_id, rej.reason, rej.plugin) == ("2", "plugin_error", "flaky")
    assert "KeyError" in rej.detail


@pytest.mark.reliability(
    failure="most items failing (a broken plugin or a model that never answers validly)",
    user_sees="one line: `stopped: 20 of the last 20 items failed (100% > max_failure_share …);"
              " see rejects.jsonl for reasons …`; manifest status `aborted`",
    exit_code=3, kept="every item committed before, with its rejection reason")
def test_too_many_failures_stop_the_run_with_a_reason(tmp_path):
    class Broken(Generator):
        async def generate(self, item, ctx):
            raise ValueError("always")

    with pytest.raises(RunAborted, match=r"20 of the last 20 items failed") as err:
        run_recipe(_recipe(tmp_path, n=100, generator="broken"), tmp_path,
                   plugins=[Plugin(Broken, "broken")])
    assert err.value.exit_code == 3
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "aborted"
    assert len((tmp_path / "run" / "rejects.jsonl").read_text().splitlines()) == 20


@pytest.mark.reliability(
    failure="rerunning into an output_dir that holds a run of a different recipe",
    user_sees="one line naming the changed keys: `… holds a run of a different recipe (seed: "
              "0 -> 1); use --fresh to start afresh or another output_dir`",
    exit_code=2, kept="the earlier run's files, untouched")
def test_finished_run_is_not_redone_and_a_changed_recipe_is_refused(tmp_path):
    recipe = _recipe(tmp_path, n=5)
    backend = FakeBackend()
    run_recipe(recipe, tmp_path, backend=backend, plugins=[Plugin(TwoStep)])
    before = (tmp_path / "run" / "records.jsonl").read_bytes()
    calls = len(backend.calls)
    again = run_recipe(recipe, tmp_path, backend=backend, plugins=[Plugin(TwoStep)])
    assert again.summary.status == "already_finished" and len(backend.calls) == calls
    assert "nothing to do" in again.summary.message
    with pytest.raises(UserError, match=r"different recipe \(seed: 0 -> 1\).*--fresh"):
        run_recipe({**recipe, "seed": 1}, tmp_path, plugins=[Plugin(TwoStep)])
    assert (tmp_path / "run" / "records.jsonl").read_bytes() == before
    fresh = run_recipe({**recipe, "seed": 1}, tmp_path, plugins=[Plugin(TwoStep)], fresh=True)
    assert fresh.summary.accepted == 5 and len(fresh.records) == 5


def test_raising_the_limit_continues_a_finished_run(tmp_path):
    recipe = _recipe(tmp_path, n=10)
    run_recipe({**recipe, "limit": 4}, tmp_path, plugins=[Plugin(TwoStep)])
    result = run_recipe({**recipe, "limit": 7}, tmp_path, plugins=[Plugin(TwoStep)])
    assert [r.item_id for r in result.records] == [str(i) for i in range(1, 8)]


def test_review_hook_can_change_and_veto_and_lifecycle_hooks_see_the_manifest(tmp_path):
    seen = {}

    class Reviewer:
        @hookimpl
        def instructgen_review_record(self, review):
            if review.record.item_id == "1":
                review.veto("not_wanted", by="reviewer")
            else:
                review.replace(data={**review.record.data, "reviewed": True})

        @hookimpl
        def instructgen_run_start(self, manifest):
            seen["start"] = manifest.recipe_hash

        @hookimpl
        def instructgen_run_end(self, manifest, summary):
            seen["end"] = (manifest.status, summary.accepted)

    result = run_recipe(_recipe(tmp_path, n=3), tmp_path,
                        plugins=[Plugin(TwoStep), Reviewer()])
    assert all(r.data["reviewed"] for r in result.records) and len(result.records) == 2
    (rej,) = result.rejections
    assert (rej.reason, rej.plugin, rej.stage) == ("not_wanted", "reviewer", "review")
    assert seen["start"] == result.manifest["recipe_hash"]
    assert seen["end"] == ("finished", 2)


@pytest.mark.reliability(
    failure="a prompt longer than the model's context window",
    user_sees="nothing at once: the item is rejected as `context_overflow`, naming the prompt's "
              "tokens and n_ctx",
    exit_code=0, kept="every other item")
def test_an_overlong_prompt_rejects_only_its_item(tmp_path):
    class Long(Generator):
        async def generate(self, item, ctx):
            words = 50 if item.id == "2" else 3
            a = await ctx.ask(LLMRequest(messages=[("user", "w " * words)]))
            return [{"a": a.text}]

    backend = FakeBackend(FakeOptions(n_ctx=20))
    result = run_recipe(_recipe(tmp_path, n=4, generator="long"), tmp_path, backend=backend,
                        plugins=[Plugin(Long, "long")])
    assert result.summary.accepted == 3
    (rej,) = result.rejections
    assert rej.reason == "context_overflow" and "n_ctx=20" in rej.detail


def test_iter_records_streams_and_writes_nothing(tmp_path):
    import instructgen

    recipe = _recipe(tmp_path, n=50)
    stream = instructgen.iter_records(recipe, plugins=[Plugin(TwoStep)], autoload=False)
    first = next(stream)
    stream.close()
    assert first.item_id == "1"
    assert not (tmp_path / "run").exists()


def test_manifest_records_provenance_and_counts(tmp_path):
    result = run_recipe(_recipe(tmp_path, n=6), tmp_path, plugins=[Plugin(TwoStep)])
    m = result.manifest
    assert m["counts"]["items"] == 6 and m["counts"]["accepted"] == 6
    assert m["counts"]["requests"] == 12
    assert m["backend"]["name"] == "fake" and m["status"] == "finished"
    assert m["plugins"]["generator:two_step"] == "embedded"
    prov = result.records[0].provenance
    assert prov.recipe_hash == m["recipe_hash"] and prov.backend.name == "fake"


@pytest.mark.reliability(
    failure="a state.json that is not JSON (edited by hand, a copy gone wrong)",
    user_sees="one line: `…/state.json: corrupt resume state; rerun with --fresh`",
    exit_code=2, kept="records.jsonl, byte for byte")
def test_a_corrupt_resume_state_is_a_clear_error_and_keeps_the_records(tmp_path):
    recipe = _recipe(tmp_path, n=6, limit=3)
    run_recipe(recipe, tmp_path, plugins=[Plugin(TwoStep)])
    run_dir = tmp_path / "run"
    records = (run_dir / "records.jsonl").read_bytes()
    (run_dir / "state.json").write_text("{not json")
    with pytest.raises(UserError, match=r"state\.json: corrupt resume state; rerun with --fresh"):
        run_recipe({**recipe, "limit": 6}, tmp_path, plugins=[Plugin(TwoStep)])
    assert (run_dir / "records.jsonl").read_bytes() == records
