"""The openai backend against small scripted servers on 127.0.0.1: retries, failures, secrets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the openai backend needs httpx: pip install "
                    "'instructgen[openai]'")

from openai_fake_server import MODEL, FakeServer, Reply, spawn

from instructgen.backend import LLMRequest
from instructgen.backends.openai import (
    OpenAIBackend,
    OpenAIOptions,
    ServerRefusedError,
    ServerUnavailableError,
    wire,
)
from instructgen.backends.openai.local import free_port
from instructgen.errors import ContextOverflowError, RecipeError, RunAborted

SCHEMA = {"type": "object", "properties": {"t": {"type": "string"}}, "required": ["t"]}
KEY = "sk-test-9f8e7d6c5b4a"


def ask(text: str = "hello", **kw: object) -> LLMRequest:
    kw.setdefault("seed", 1)
    return LLMRequest(messages=[("user", text)], **kw)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.stop()


def make(url: str | list[str], **kw: object) -> OpenAIBackend:
    kw.setdefault("backoff_s", 0.02)
    kw.setdefault("max_attempts", 4)
    return OpenAIBackend(OpenAIOptions(base_url=url, **kw))  # type: ignore[arg-type]


# -- requests and identity -----------------------------------------------------------------


def test_sampling_fields_and_schema_reach_the_server(server: FakeServer) -> None:
    with make(server.url) as backend:
        out = backend.generate([ask("a", temperature=0.3, top_p=0.9, top_k=7, seed=42,
                                    stop=("END",), schema=SCHEMA)])
        body = server.posts[-1]
    assert body["model"] == MODEL
    assert (body["temperature"], body["top_p"], body["top_k"], body["seed"], body["stop"]) == (
        0.3, 0.9, 7, 42, ["END"])
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert out[0].parsed == {"t": "a"} and out[0].text == '{"t":"a"}'


@pytest.mark.parametrize(("mode", "field"), [("guided_json", "guided_json"),
                                             ("json_object", "response_format"),
                                             ("none", None)])
def test_schema_modes(server: FakeServer, mode: str, field: str | None) -> None:
    with make(server.url, schema_mode=mode, omit_params=["top_k", "seed"]) as backend:
        backend.generate([ask(schema=SCHEMA)])
    body = server.posts[-1]
    assert "top_k" not in body and "seed" not in body
    sent = {k for k in ("guided_json", "response_format") if k in body}
    assert sent == ({field} if field else set())
    if mode == "json_object":
        assert body["response_format"] == {"type": "json_object", "schema": SCHEMA}


def test_identity_holds_model_fingerprint_and_clean_url(server: FakeServer) -> None:
    with make(server.url + "/") as backend:
        ident = backend.identity
    assert ident.name == "openai" and ident.model == MODEL
    assert ident.settings["system_fingerprint"] == "fp_1"
    assert ident.settings["servers"] == [server.url]
    other = FakeServer(fingerprint="fp_2")
    try:
        with make(other.url) as backend2:
            second = backend2.identity
    finally:
        other.stop()
    assert second.settings["system_fingerprint"] == "fp_2"
    assert second.key() != ident.key()


def test_unknown_model_is_refused_naming_what_the_server_has(server: FakeServer) -> None:
    with pytest.raises(Exception, match=f"not served.*{MODEL}"):
        make(server.url, model="llama-9000")


def test_base_url_with_credentials_or_query_is_refused() -> None:
    from instructgen.recipe import structure_options

    for url in ("http://user:pw@127.0.0.1:1/v1", "http://127.0.0.1:1/v1?api-key=abc"):
        with pytest.raises(RecipeError, match="base_url") as info:
            structure_options({"base_url": url}, OpenAIOptions, "backend")
        assert "pw" not in str(info.value) and "abc" not in str(info.value)
    with pytest.raises(RecipeError, match="api_key_env") as info:
        structure_options({"api_key_env": KEY}, OpenAIOptions, "backend")
    assert KEY not in str(info.value)


def test_requests_spread_by_least_outstanding() -> None:
    slow, fast = FakeServer(delay=0.3), FakeServer(delay=0.01)
    try:
        with make([slow.url, fast.url], max_concurrency=4) as backend:
            out = backend.generate([ask(f"w{i}") for i in range(24)])
    finally:
        slow.stop()
        fast.stop()
    assert [c.text for c in out] == [f"ok: w{i}" for i in range(24)]
    n_slow, n_fast = len(slow.posts) - 1, len(fast.posts) - 1  # minus the start-up probe
    assert n_slow >= 1 and n_fast >= 3 * n_slow, (n_slow, n_fast)


def test_max_concurrency_caps_requests_in_flight(server: FakeServer) -> None:
    server.delay = 0.05
    with make(server.url, max_concurrency=3) as backend:
        threads = [threading.Thread(target=backend.generate,
                                    args=([ask(f"{j}-{i}") for i in range(6)],))
                   for j in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(server.posts) == 1 + 18
    assert 2 <= server.peak <= 3


# -- failures ------------------------------------------------------------------------------


@pytest.mark.reliability(failure="an OpenAI-compatible server answers 429 with Retry-After",
                         user_sees="nothing: the request waits as told and is retried",
                         exit_code=0, kept="everything")
def test_429_waits_for_retry_after(server: FakeServer) -> None:
    with make(server.url) as backend:
        server.script = [Reply(429, '{"error": {"message": "slow down"}}',
                               {"Retry-After": "1"})]
        start = time.monotonic()
        (out,) = backend.generate([ask("x")])
    assert out.text == "ok: x"
    assert time.monotonic() - start >= 0.95
    assert len(server.posts) == 3  # probe, 429, success


@pytest.mark.reliability(failure="an OpenAI-compatible server answers 5xx now and then",
                         user_sees="nothing: retried with exponential backoff and jitter",
                         exit_code=0, kept="everything")
def test_5xx_is_retried(server: FakeServer) -> None:
    with make(server.url) as backend:
        server.script = [Reply(500, "oops"), Reply(503, "busy")]
        (out,) = backend.generate([ask("y")])
    assert out.text == "ok: y" and len(server.posts) == 4


@pytest.mark.reliability(failure="an OpenAI-compatible server is slower than timeout_s",
                         user_sees="nothing: the attempt is abandoned and retried",
                         exit_code=0, kept="everything")
def test_slow_answer_times_out_and_is_retried(server: FakeServer) -> None:
    with make(server.url, timeout_s=0.5) as backend:
        server.script = [Reply(delay=3.0)]
        start = time.monotonic()
        (out,) = backend.generate([ask("z")])
    assert out.text == "ok: z"
    assert time.monotonic() - start < 2.5
    assert len(server.posts) == 3


def test_dropped_connection_is_retried(server: FakeServer) -> None:
    with make(server.url) as backend:
        server.script = [Reply(drop=True)]
        (out,) = backend.generate([ask("r")])
    assert out.text == "ok: r"


def test_garbled_body_is_an_unusable_answer_with_its_raw_text(server: FakeServer) -> None:
    with make(server.url) as backend:
        server.script = [Reply(200, "<html>proxy error</html>"), Reply(200, '{"choices": []}')]
        plain, constrained = backend.generate([ask("a"), ask("b", schema=SCHEMA)])
    for c in (plain, constrained):
        assert c.finish_reason == "error" and c.parsed is None
    assert {plain.text, constrained.text} == {"<html>proxy error</html>", '{"choices": []}'}


@pytest.mark.reliability(failure="an OpenAI-compatible server sends a body that is not a "
                         "chat completion", user_sees="the item retried; after max_retries it "
                         "is rejected as invalid_output with the raw body kept",
                         exit_code=0, kept="every other record")
def test_garbled_bodies_go_through_the_runners_retries(server: FakeServer, tmp_path: Path,
                                                        run_recipe) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"id": f"i{i}", "caption": f"c{i}"}) + "\n"
                              for i in range(3)))
    recipe = {
        "source": {"name": "jsonl", "path": str(source), "id_field": "id"},
        "generator": {"name": "prompt", "template": "{caption}", "schema": json.dumps(SCHEMA)},
        "backend": {"name": "openai", "base_url": server.url, "backoff_s": 0.02,
                    "max_concurrency": 1},
        "batch_size": 1, "max_retries": 1, "cache": {"enabled": False},
    }
    garbled = Reply(200, "not json at all")

    seen: list[str] = []

    def script(body: dict) -> Reply | None:
        caption = body["messages"][-1]["content"]
        seen.append(caption)
        if caption == "c1" or (caption == "c2" and seen.count("c2") == 1):
            return garbled  # item 1 always, item 2 once
        return None

    server.on_post = script
    result = run_recipe(recipe)
    assert sorted(r.item_id for r in result.records) == ["i0", "i2"]
    (rej,) = result.rejections
    assert rej.item_id == "i1" and rej.reason == "invalid_output"
    assert rej.raw == "not json at all"
    assert seen.count("c1") == 2 and seen.count("c2") == 2  # max_retries=1: two attempts


@pytest.mark.reliability(failure="an OpenAI-compatible server answers 4xx (other than 429)",
                         user_sees="one line with the server's own message", exit_code=2,
                         kept="records finished before it")
def test_4xx_fails_fast_with_the_servers_message(server: FakeServer) -> None:
    with make(server.url) as backend:
        server.script = [Reply(400, '{"error": {"message": "messages: bad role \\"robot\\""}}')]
        with pytest.raises(ServerRefusedError, match='bad role "robot"') as info:
            backend.generate([ask()])
    assert "\n" not in str(info.value) and len(server.posts) == 2  # no retry


@pytest.mark.reliability(failure="an OpenAI-compatible server refuses a sampling or schema "
                         "parameter", user_sees="one line naming the parameter and the option "
                         "that avoids it", exit_code=2, kept="records finished before it")
@pytest.mark.parametrize(("status", "body", "param", "fix"), [
    (400, '{"error": {"message": "Unrecognized request argument supplied: top_k",'
          ' "param": null}}', "top_k", "omit_params"),
    (400, '{"error": {"message": "bad", "param": "seed"}}', "seed", "omit_params"),
    (422, '{"detail": [{"loc": ["body", "response_format", "type"], "msg": "bad"}]}',
     "response_format", "schema_mode"),
    (500, "1 validation error: {'loc': ('body', 'response_format', 'type')}",
     "response_format", "schema_mode"),
])
def test_refused_parameter_is_named_with_the_option_that_avoids_it(
        server: FakeServer, status: int, body: str, param: str, fix: str) -> None:
    with make(server.url) as backend:
        server.script = [Reply(status, body)]
        with pytest.raises(ServerRefusedError) as info:
            backend.generate([ask(schema=SCHEMA)])
    message = str(info.value)
    assert f"'{param}'" in message and f"backend.{fix}" in message and "\n" not in message


def test_refused_parameter_is_caught_at_start_up(server: FakeServer) -> None:
    server.script = [Reply(400, '{"error": {"message": "x", "param": "top_k"}}')]
    with pytest.raises(ServerRefusedError, match=r"'top_k'.*omit_params"):
        make(server.url)


def test_context_overflow_names_the_servers_window(server: FakeServer) -> None:
    vllm = ("This model's maximum context length is 4096 tokens. However, you requested "
            "5000 tokens (4990 in the messages, 10 in the completion).")
    with make(server.url) as backend:
        server.script = [Reply(400, json.dumps({"object": "error", "message": vllm}))]
        with pytest.raises(ContextOverflowError, match="n_ctx=4096"):
            backend.generate([ask()])


@pytest.mark.reliability(failure="an OpenAI-compatible server stays unreachable",
                         user_sees="one line: no answer after max_attempts attempts; rerun to "
                         "resume", exit_code=3, kept="records finished before it")
@pytest.mark.slow
def test_server_gone_stops_with_one_line_and_a_rerun_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from instructgen.cli import main

    port = free_port()
    proc = spawn(port, "--die-after", "8")  # the probe, then 7 answers, then a crash
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"id": f"i{i}", "caption": f"c{i}"}) + "\n"
                              for i in range(20)))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"""output_dir = "{tmp_path / 'run'}"
batch_size = 2
[cache]
path = "{tmp_path / 'cache.sqlite'}"
[source]
name = "jsonl"
path = "{source}"
id_field = "id"
[generator]
name = "prompt"
template = "{{caption}}"
[backend]
name = "openai"
base_url = "http://127.0.0.1:{port}/v1"
max_concurrency = 1
max_attempts = 3
backoff_s = 0.05
""")
    try:
        code = main(["run", str(recipe), "--no-progress"])
        proc.wait(timeout=10)
        records = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
        assert code == 3 and 0 < len(records) < 20  # 3: the run stopped itself
        said = [x for x in capsys.readouterr().err.splitlines() if x.startswith("instructgen:")]
        assert len(said) == 1 and "gave no answer after 3 attempts" in said[0]
        assert "rerun the same command to resume" in said[0]
        proc = spawn(port)
        assert main(["run", str(recipe), "--no-progress"]) == 0
    finally:
        proc.kill()
        proc.wait()
    lines = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    ids = [json.loads(x)["item_id"] for x in lines]
    assert sorted(ids) == sorted(f"i{i}" for i in range(20))  # nothing lost, nothing twice


def test_server_gone_message_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    proc = spawn(port, "--die-after", "2")
    try:
        backend = make(f"http://127.0.0.1:{port}/v1", max_attempts=3)
        with pytest.raises(ServerUnavailableError) as info:
            backend.generate([ask()])
        backend.close()
    finally:
        proc.kill()
        proc.wait()
    message = str(info.value)
    assert "\n" not in message and "after 3 attempts" in message and "rerun" in message
    assert isinstance(info.value, RunAborted)


@pytest.mark.reliability(failure="an OpenAI-compatible server is killed mid-run and restarted",
                         user_sees="retry warnings; the run finishes", exit_code=0,
                         kept="everything")
@pytest.mark.slow
def test_server_killed_mid_run_and_restarted(tmp_path: Path, run_recipe) -> None:
    port = free_port()
    proc = spawn(port, "--die-after", "6")
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"id": f"i{i}", "caption": f"c{i}"}) + "\n"
                              for i in range(12)))
    recipe = {
        "source": {"name": "jsonl", "path": str(source), "id_field": "id"},
        "generator": {"name": "prompt", "template": "{caption}"},
        "backend": {"name": "openai", "base_url": f"http://127.0.0.1:{port}/v1",
                    "backoff_s": 0.2, "max_attempts": 8, "max_concurrency": 2},
        "batch_size": 2,
    }
    restarted: list[object] = []

    def restart() -> None:
        proc.wait(timeout=30)  # the crash
        time.sleep(0.5)
        restarted.append(spawn(port))

    helper = threading.Thread(target=restart)
    helper.start()
    try:
        result = run_recipe(recipe)
    finally:
        helper.join()
        for p in restarted:
            p.kill()  # type: ignore[attr-defined]
            p.wait()  # type: ignore[attr-defined]
    assert restarted, "the server never crashed"
    assert result.summary.accepted == 12
    assert [r.data["text"] for r in result.records] == [f"ok: c{i}" for i in range(12)]


# -- secrets -------------------------------------------------------------------------------


def test_api_key_is_sent_but_never_written_logged_or_shown(
        server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], run_recipe) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)
    source = tmp_path / "items.jsonl"
    source.write_text(json.dumps({"id": "a", "caption": "cat"}) + "\n")
    echo = json.dumps({"error": {"message": f"key {KEY} is over quota"}})
    server.script = [Reply(200), Reply(503, echo), Reply(503, echo)]  # probe, then 2 retries
    recipe = {
        "source": {"name": "jsonl", "path": str(source), "id_field": "id"},
        "generator": {"name": "prompt", "template": "{caption}"},
        "backend": {"name": "openai", "base_url": server.url, "api_key_env": "TEST_OPENAI_KEY",
                    "backoff_s": 0.02},
    }
    result = run_recipe(recipe)
    assert result.summary.accepted == 1
    assert all(h.get("Authorization") == f"Bearer {KEY}" for h in server.headers)
    out, err = capfd.readouterr()
    assert "openai_retry" in err and "***" in err  # the echoed key was blanked in the log
    assert KEY not in out + err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    # An error built from a server message that echoes the key hides it too.
    with make(server.url, api_key_env="TEST_OPENAI_KEY") as backend:
        server.script = [Reply(401, echo)]
        with pytest.raises(ServerRefusedError) as info:
            backend.generate([ask()])
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert "api_key_env" in str(info.value)


# -- wire helpers --------------------------------------------------------------------------


def test_retry_after_and_backoff() -> None:
    import random

    assert wire.retry_after("3") == 3.0
    assert wire.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert wire.retry_after("soon") is None and wire.retry_after(None) is None
    assert wire.retry_after("100000") == wire.MAX_DELAY_S
    rng = random.Random(0)
    delays = [wire.backoff(n, 1.0, rng) for n in range(1, 6)]
    for n, d in enumerate(delays, start=1):
        assert 0.5 * 2 ** (n - 1) <= d <= 2 ** (n - 1)
    assert wire.backoff(30, 1.0, rng) <= wire.MAX_DELAY_S


def test_rejected_param_reads_only_fields_that_were_sent() -> None:
    body = {"temperature": 1.0, "stop": ["x"], "top_k": 3, "response_format": {}}
    assert wire.rejected_param(400, "Unrecognized request argument supplied: stop", body) == "stop"
    assert wire.rejected_param(400, "invalid top_kk", body) is None
    assert wire.rejected_param(400, "Unrecognized argument: seed", body) is None  # not sent
    pydantic = "1 validation error: {{'loc': ('body', {}, 0), 'msg': 'bad temperature'}}"
    assert wire.rejected_param(500, pydantic.format("'response_format'"), body) == \
        "response_format"
    assert wire.rejected_param(500, pydantic.format("'messages'"), body) is None
    assert wire.rejected_param(500, "internal error near top_k", body) is None  # a real 500
    assert wire.rejected_param(429, '{"error": {"param": "top_k"}}', body) is None
