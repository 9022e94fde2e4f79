"""The Backend contract: what it declares is what the run machinery reads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from instructgen.backend import Backend, BackendIdentity, Completion, FirstTokenScorer, LLMRequest
from instructgen.backends import FakeBackend
from instructgen.backends.llamacpp import LlamaCppBackend
from instructgen.testing import run_recipe


class Minimal(Backend):
    """Only what the ABC requires: ``generate`` and ``identity``; it counts calls in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay)
        with self.lock:
            self.in_flight -= 1
        return [Completion(text=f"caption {r.messages[-1].content}") for r in requests]

    @property
    def identity(self) -> BackendIdentity:
        return BackendIdentity(name="minimal", model="none")


class Parallel(Minimal):
    concurrency = 3


def _recipe(tmp_path: Path, n: int) -> dict[str, object]:
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"subject": f"lamp {i}"}) + "\n" for i in range(n)))
    return {"seed": 1, "batch_size": 2, "backend": {"name": "fake"},
            "source": {"name": "jsonl", "path": str(items)},
            "generator": {"name": "prompt", "template": "Describe {subject}."},
            "sink": {"name": "jsonl", "format": "flat"}}


def test_a_backend_with_only_generate_and_identity_runs_a_recipe_one_call_at_a_time(tmp_path):
    backend = Minimal(delay=0.01)
    assert backend.concurrency == 1
    res = run_recipe(_recipe(tmp_path, 12), tmp_path, backend=backend)
    assert len(res.records) == 12 and res.records[0].data["text"].startswith("caption ")
    assert backend.most_in_flight == 1


def test_the_scheduler_keeps_concurrency_calls_in_flight_and_no_more(tmp_path):
    backend = Parallel(delay=0.05)
    res = run_recipe(_recipe(tmp_path, 24), tmp_path, backend=backend)
    assert len(res.records) == 24
    assert 2 <= backend.most_in_flight <= 3


def test_the_abc_declares_exactly_what_the_runner_reads():
    public = {name for name in vars(Backend) if not name.startswith("_")}
    assert public == {"generate", "identity", "concurrency", "close"}


def test_first_token_scoring_is_a_separate_capability():
    assert issubclass(LlamaCppBackend, FirstTokenScorer)
    assert not isinstance(FakeBackend(), FirstTokenScorer)
    assert not issubclass(Backend, FirstTokenScorer)
