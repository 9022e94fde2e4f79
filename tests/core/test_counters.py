"""One class of run counts: the manifest, the resume state and Ray blocks all read it."""

from __future__ import annotations

import json

import attrs
import pytest

from instructgen.backends.fake import FakeBackend
from instructgen.counters import Counters, RunSummary, from_blob, to_blob
from instructgen.recipe import load_recipe
from instructgen.scheduler import in_flight_window

ITEM_SIDE = ["items", "accepted", "rejected", "rejected_items"]


def numbered() -> Counters:
    """Counters whose every field holds a different value."""
    return Counters(**{f.name: i + 1 for i, f in enumerate(attrs.fields(Counters))})


def test_the_manifest_counts_are_every_count_in_field_order():
    counts = numbered().counts()
    assert list(counts) == [f.name for f in attrs.fields(Counters) if f.name != "backend_s"]
    assert list(counts)[:4] == ITEM_SIDE and counts["completion_tokens"] == 11
    json.dumps(counts)  # plain data, as the manifest writes it


def test_only_item_side_counts_are_carried_across_a_resume():
    saved = numbered().carried()
    assert saved == {"items": 1, "accepted": 2, "rejected": 3, "rejected_items": 4}
    summary = RunSummary(run_dir=None, backend_calls=9)
    summary.restore({"items": 7})
    assert (summary.items, summary.accepted, summary.backend_calls) == (7, 0, 9)


def test_a_ray_block_s_counts_round_trip_and_add_up_field_by_field():
    block = numbered()
    blob = json.loads(json.dumps(to_blob(block)))  # what crosses the wire
    assert from_blob(blob) == block
    total = RunSummary(run_dir=None)
    total.add(from_blob(blob))
    total.add(from_blob(blob))
    assert [getattr(total, f.name) for f in attrs.fields(Counters)] == [
        2 * getattr(block, f.name) for f in attrs.fields(Counters)]


def _recipe(**top: object):
    return load_recipe({"output_dir": "out", "source": {"name": "jsonl", "path": "x.jsonl"},
                        "generator": {"name": "prompt", "template": "{x}"},
                        "backend": {"name": "fake"}, **top})


class _Concurrent(FakeBackend):
    concurrency = 3


@pytest.mark.parametrize(("top", "backend", "window"), [
    ({"batch_size": 4}, FakeBackend(), 8),        # at least 8
    ({"batch_size": 16}, FakeBackend(), 32),      # two batches
    ({"batch_size": 16}, _Concurrent(), 96),      # two batches per concurrent call
    ({"batch_size": 16, "in_flight": 5}, _Concurrent(), 5),  # the recipe's choice wins
])
def test_one_window_rule_for_every_engine(top, backend, window):
    assert in_flight_window(_recipe(**top), backend) == window
