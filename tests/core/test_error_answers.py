"""An answer the backend marks ``finish_reason = "error"`` is retried, never accepted."""

from __future__ import annotations

import pytest

from instructgen.backend import Completion
from instructgen.backends.fake import FakeBackend


def _backend(bad_attempts: int) -> FakeBackend:
    seen: dict[str, int] = {}

    def respond(req):
        key = req.messages[-1].content
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= bad_attempts:
            return Completion(text="<html>502 Bad Gateway</html>", finish_reason="error")
        return Completion(text=f"ok {key}")

    return FakeBackend(responder=respond)


def _recipe(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"caption": "a cat"}\n{"caption": "a dog"}\n')
    return {"source": {"name": "jsonl", "path": str(path)},
            "generator": {"name": "prompt", "template": "{caption}"},
            "max_retries": 2, "cache": {"enabled": False}}


def test_an_error_answer_is_retried_then_the_good_answer_is_kept(run_recipe, tmp_path):
    res = run_recipe(_recipe(tmp_path), backend=_backend(bad_attempts=1))
    assert [d["text"] for d in res.data] == ["ok a cat", "ok a dog"]
    assert res.summary.invalid_answers == 2


@pytest.mark.reliability(failure="the backend returns an unusable body (garbled HTTP answer) "
                                 "on every attempt",
                         user_sees="the item is rejected as invalid_output with the raw body "
                                   "in rejects.jsonl",
                         exit_code=0, kept="every other item's records")
def test_an_error_answer_on_every_attempt_rejects_the_item_with_its_raw_text(run_recipe, tmp_path):
    res = run_recipe(_recipe(tmp_path), backend=_backend(bad_attempts=99))
    assert res.records == []
    assert [r.reason for r in res.rejections] == ["invalid_output", "invalid_output"]
    assert res.rejections[0].raw == "<html>502 Bad Gateway</html>"
    assert "no usable answer" in res.rejections[0].detail
