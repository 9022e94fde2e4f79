"""Scored requests (``LLMRequest.choices``) through the normal ``generate`` path.

A scored request is answered with each label's first-token log-probability
(``Completion.scores``) instead of text. Through ``generate`` it gets the
cache, the scheduler's batching, replica workers and Ray actors for free; the
llamacpp and transformers answers must equal the single-request reference
(``first_token_logprobs``), and a backend that cannot score refuses clearly.
"""

from __future__ import annotations

import json
import math

import pytest

from instructgen.backend import (
    BackendIdentity,
    Completion,
    LLMRequest,
    ScoringUnsupportedError,
    generate_split,
)
from instructgen.backends.fake import FakeBackend, FakeOptions
from instructgen.backends.local import label_logprobs
from instructgen.cache import CallCache
from instructgen.manager import make_registry
from instructgen.plugins.edits.judge_eval import labelled_set
from instructgen.plugins.edits.prompts import YES_NO, judge_request
from instructgen.plugins.edits.types import get_edit_types

#: Largest |difference| of log-probabilities between ``generate`` and the reference.
SAME = 1e-4


def _judge_requests(n: int = 4) -> list[LLMRequest]:
    types = get_edit_types(make_registry())
    cases = labelled_set([types["remove"], types["replace"]], per_type=1)[:n]
    return [judge_request(c.etype, c.caption, c.result, mode="score", temperature=0.0)
            for c in cases]


def test_a_scored_request_keys_the_cache_apart_and_plain_keys_do_not_change():
    plain = LLMRequest(messages=[("user", "hi")], seed=1)
    assert plain.cache_payload() == [[["user", "hi"]], 128, 0.7, 0.95, 40, 1, [], None]
    scored = LLMRequest(messages=[("user", "hi")], seed=1, choices={"yes": ["yes"], "no": "no"})
    assert scored.choices == {"yes": ("yes",), "no": ("no",)}
    assert scored.cache_payload()[:-1] == plain.cache_payload()
    assert scored.cache_payload()[-1] == [["yes", ["yes"]], ["no", ["no"]]]
    with pytest.raises(ValueError, match="either choices"):
        LLMRequest(messages=[("user", "hi")], choices=YES_NO, schema={"type": "string"})
    with pytest.raises(ValueError, match="at least one text"):
        LLMRequest(messages=[("user", "hi")], choices={"yes": ()})


def test_the_cache_returns_the_scores_and_keeps_plain_blobs_as_they_were(tmp_path):
    identity = BackendIdentity(name="fake", model="fake")
    cache = CallCache(tmp_path / "c.sqlite", identity)
    scored = LLMRequest(messages=[("user", "judge")], choices=YES_NO)
    plain = LLMRequest(messages=[("user", "write")])
    answer = Completion(text="no", scores={"yes": math.log(0.25), "no": math.log(0.75)})
    cache.put_many([(cache.key(scored), answer), (cache.key(plain), Completion(text="ok"))])
    cache.flush()
    hit = cache.get_many([cache.key(scored)])[cache.key(scored)]
    assert hit.cached and hit.text == "no" and hit.scores == answer.scores
    blobs = dict(cache._db.execute("SELECT key, completion FROM calls").fetchall())
    assert "scores" not in json.loads(blobs[cache.key(plain)])
    cache.close()


def test_the_fake_scores_from_its_script_and_refuses_without_one():
    fake = FakeBackend(FakeOptions(scores={"dog": {"yes": 3, "no": 1}}))
    dog, cat = (LLMRequest(messages=[("user", f"a {w}")], choices=YES_NO) for w in ("dog", "cat"))
    plain = LLMRequest(messages=[("user", "hello")])
    out = fake.generate([plain, dog])
    assert out[0].text == "echo: hello" and out[0].scores is None
    assert out[1].text == "yes" and math.isclose(math.exp(out[1].scores["yes"]), 0.75)
    with pytest.raises(ScoringUnsupportedError, match="backend fake cannot score"):
        fake.generate([cat])
    assert "scores" not in FakeBackend().identity.settings  # identities of old recipes stay


def test_generate_split_answers_each_kind_with_its_own_path_in_request_order():
    reqs = [LLMRequest(messages=[("user", str(i))], choices=YES_NO if i % 2 else None)
            for i in range(5)]
    seen = []

    def plain(idx):
        seen.append(("plain", idx))
        return [Completion(text=f"p{i}") for i in idx]

    def score(idx):
        seen.append(("score", idx))
        return [Completion(text=f"s{i}") for i in idx]

    assert [c.text for c in generate_split(reqs, plain, score)] == ["p0", "s1", "p2", "s3", "p4"]
    assert seen == [("plain", [0, 2, 4]), ("score", [1, 3])]


def test_label_logprobs_normalises_over_the_labels_and_sums_a_labels_tokens():
    logits = [0.0, math.log(2), math.log(3), 5.0]
    got = label_logprobs(logits, {"a": [0, 1], "b": [2], "c": []})
    assert math.isclose(math.exp(got["a"]), 0.5) and math.isclose(math.exp(got["b"]), 0.5)
    assert got["c"] == float("-inf")


def test_the_openai_backend_refuses_a_scored_request_before_sending_anything():
    pytest.importorskip("httpx", reason="the openai backend needs httpx")
    from openai_fake_server import FakeServer

    from instructgen.backends.openai import OpenAIBackend, OpenAIOptions

    server = FakeServer()
    backend = OpenAIBackend(OpenAIOptions(base_url=server.url, max_attempts=1))
    try:
        probes = len(server.posts)  # the backend checks the server when it starts
        with pytest.raises(ScoringUnsupportedError,
                           match=r'backend openai cannot score.*judge_format = "score"'):
            backend.generate([LLMRequest(messages=[("user", "x")]),
                              LLMRequest(messages=[("user", "y")], choices=YES_NO)])
        assert len(server.posts) == probes
    finally:
        backend.close()
        server.stop()


@pytest.mark.model
def test_llamacpp_generate_scores_equal_the_single_request_reference(llamacpp_backend):
    reqs = _judge_requests(4)
    reference = [llamacpp_backend.first_token_logprobs(r, YES_NO) for r in reqs]
    plain = LLMRequest(messages=[("user", "Say hello.")], max_tokens=4, temperature=0.0)
    # Scored and generated requests in one call, twice: the second reuses the prefix cache.
    for _ in range(2):
        out = llamacpp_backend.generate([reqs[0], plain, *reqs[1:]])
        scored = [out[0], *out[2:]]
        assert out[1].scores is None and out[1].text
        for got, ref in zip(scored, reference, strict=True):
            assert got.scores is not None and set(got.scores) == {"yes", "no"}
            assert max(abs(got.scores[k] - ref[k]) for k in ref) < SAME, (got.scores, ref)
            assert got.text == max(ref, key=ref.__getitem__)
            assert got.completion_tokens == 0 and got.prompt_tokens > 0
    assert any(c.prompt_tokens_decoded < c.prompt_tokens for c in scored)  # prefix reused


@pytest.mark.model
def test_transformers_generate_scores_equal_first_token_logprobs(transformers_backend):
    reqs = _judge_requests(2)
    plain = LLMRequest(messages=[("user", "Say hello.")], max_tokens=2, temperature=0.0)
    out = transformers_backend.generate([reqs[0], plain, reqs[1]])
    assert out[1].scores is None
    for got, req in zip([out[0], out[2]], reqs, strict=True):
        ref = transformers_backend.first_token_logprobs(req, YES_NO)
        assert max(abs(got.scores[k] - ref[k]) for k in ref) < SAME, (got.scores, ref)


@pytest.mark.model
@pytest.mark.slow
def test_scored_requests_pass_through_llamacpp_replica_workers(llamacpp_backend):
    from instructgen.backends.llamacpp import LlamaCppOptions
    from instructgen.engines.replicas import ReplicaPool

    reqs = _judge_requests(3)
    reference = [llamacpp_backend.first_token_logprobs(r, YES_NO) for r in reqs]
    spec = make_registry(autoload=False).get("backend", "llamacpp")
    options = LlamaCppOptions(model=str(llamacpp_backend.model_path), n_ctx=512)
    pool = ReplicaPool(spec, options, 2)
    try:
        out = pool.generate(reqs)
    finally:
        pool.close()
    for got, ref in zip(out, reference, strict=True):
        assert max(abs(got.scores[k] - ref[k]) for k in ref) < SAME, (got.scores, ref)
