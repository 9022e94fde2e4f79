"""With the Ray engine, actors share the endpoint list and split ``max_concurrency``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the openai backend needs httpx: pip install "
                    "'instructgen[openai]'")

from openai_fake_server import FakeServer

from instructgen.engines.ray import _actor_recipe
from instructgen.testing import run_recipe


@pytest.mark.parametrize(("total", "actors", "each"), [(16, 4, 4), (10, 3, 3), (2, 4, 1)])
def test_actor_recipe_splits_max_concurrency(total: int, actors: int, each: int) -> None:
    mapping = {"backend": {"name": "openai", "max_concurrency": total},
               "engine": {"kind": "ray", "actors": actors}}
    assert _actor_recipe(mapping, 1.0, 0.0)["backend"]["max_concurrency"] == each
    assert mapping["backend"]["max_concurrency"] == total  # the driver's recipe is untouched


@pytest.mark.slow
def test_ray_actors_keep_the_total_in_flight_at_max_concurrency(local_ray: object,
                                                                tmp_path: Path) -> None:
    server = FakeServer(delay=0.15)
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"caption": f"c{i}"}) + "\n" for i in range(48)))
    recipe = {
        "source": {"name": "jsonl", "path": str(source)},
        "generator": {"name": "prompt", "template": "{caption}"},
        "backend": {"name": "openai", "base_url": server.url, "max_concurrency": 4},
        "engine": {"kind": "ray", "actors": 2, "items_per_task": 12},
        "batch_size": 4,
    }
    try:
        result = run_recipe(recipe, tmp_path)
    finally:
        server.stop()
    assert result.summary.accepted == 48
    # 2 actors x 2 each; without the split each actor would allow 4 (8 in all).
    assert 2 <= server.peak <= 4, server.peak


@pytest.mark.slow
def test_a_ray_actor_keeps_its_share_busy(local_ray: object, tmp_path: Path) -> None:
    """An actor keeps as many items in flight as its share of max_concurrency needs."""
    server = FakeServer(delay=0.5)
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"caption": f"c{i}"}) + "\n" for i in range(48)))
    recipe = {
        "source": {"name": "jsonl", "path": str(source)},
        "generator": {"name": "prompt", "template": "{caption}"},
        "backend": {"name": "openai", "base_url": server.url, "max_concurrency": 16},
        "engine": {"kind": "ray", "actors": 1, "items_per_task": 48},
        "batch_size": 1,
    }
    try:
        result = run_recipe(recipe, tmp_path)
    finally:
        server.stop()
    assert result.summary.accepted == 48
    # A window of 2 x batch_size items (at least 8) would hold the actor at 8.
    assert 8 < server.peak <= 16, server.peak
