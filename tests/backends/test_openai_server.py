"""The openai backend against llama-cpp-python's real server (the embedded model, 127.0.0.1).

The conformance suite runs against the same server through the ``backend``
fixture of conftest.py; these tests add what only a real server shows.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the openai backend needs httpx: pip install "
                    "'instructgen[openai]'")

from instructgen import LLMRequest
from instructgen.backends.models import embedded_model_path
from instructgen.backends.openai import OpenAIBackend, OpenAIOptions, ServerRefusedError
from instructgen.backends.openai.local import SERVER_MODULES, llama_cpp_server

pytestmark = pytest.mark.model
KEY = "sk-real-5e4d3c2b1a09"
N_CTX = 512


def test_identity_is_the_servers_model_id(llama_server: str) -> None:
    with OpenAIBackend(OpenAIOptions(base_url=llama_server, schema_mode="json_object")) as b:
        ident = b.identity
    assert ident.name == "openai"
    assert ident.model == str(embedded_model_path())  # what llama-cpp-python reports
    assert ident.settings["servers"] == [llama_server]
    assert ident.settings["system_fingerprint"] is None  # this server sends none


def test_a_schema_field_the_server_refuses_is_named_at_start_up(llama_server: str) -> None:
    # llama-cpp-python accepts response_format types "text" and "json_object" only.
    with pytest.raises(ServerRefusedError) as info:
        OpenAIBackend(OpenAIOptions(base_url=llama_server, schema_mode="response_format"))
    message = str(info.value)
    assert "'response_format'" in message and "backend.schema_mode" in message
    assert "'json_object'" in message and "\n" not in message


def test_a_run_with_an_api_key_keeps_the_key_out_of_every_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing or embedded_model_path() is None:
        pytest.skip(f"needs llama-cpp-python's server and the embedded model ({missing})")
    from instructgen.testing import run_recipe

    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"caption": c}) + "\n"
                              for c in ("a red car", "a cat on a sofa", "a snowy street")))
    schema = {"type": "object", "properties": {"caption": {"type": "string", "minLength": 1,
                                                           "maxLength": 60}},
              "required": ["caption"], "additionalProperties": False}
    recipe = {
        "source": {"name": "jsonl", "path": str(source)},
        "generator": {"name": "prompt", "system": "Be brief.", "max_tokens": 40,
                      "template": "Rewrite this caption as JSON with a caption field: {caption}",
                      "schema": json.dumps(schema), "output_field": "answer"},
        "backend": {"name": "openai", "api_key_env": "LLAMA_KEY",
                    "schema_mode": "json_object", "max_concurrency": 2},
    }
    with llama_cpp_server(embedded_model_path(), n_ctx=N_CTX, api_key=KEY) as url:
        recipe["backend"]["base_url"] = url  # type: ignore[index]
        monkeypatch.setenv("LLAMA_KEY", "sk-wrong-000000")
        with pytest.raises(ServerRefusedError, match=r"HTTP 401.*api_key_env") as info:
            OpenAIBackend(OpenAIOptions(base_url=url, api_key_env="LLAMA_KEY"))
        assert "sk-wrong" not in str(info.value)
        monkeypatch.setenv("LLAMA_KEY", KEY)
        result = run_recipe(recipe, tmp_path)
    assert result.summary.items == 3 and result.summary.accepted >= 2
    for record in result.records:
        assert 1 <= len(record.data["answer"]["caption"]) <= 60
    manifest = result.manifest
    assert manifest["recipe"]["backend"]["api_key_env"] == "LLAMA_KEY"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path



@pytest.mark.reliability(
    failure="the OpenAI-compatible llama-cpp-python server on a CPU whose extra buffer types "
            "fault (AMX on some VMs)",
    user_sees="nothing: the server is started with extra buffer types off, as the machine's "
              "probe verdict says, and answers",
    exit_code=0, kept="everything")
def test_the_server_takes_the_probes_extra_buffers_fault_verdict(tmp_path, monkeypatch) -> None:
    from instructgen.backends import native

    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{missing[0]} is not installed: pip install 'instructgen[test]'")
    # A stored verdict "extra buffers fault here" for this machine and llama.cpp build: the
    # server must read it (not probe again) and load without extra buffer types.
    cache = tmp_path / "probes.json"
    key = native.probe_key(native.llama_library())
    cache.write_text(json.dumps({key: {"ok": False, "crash": "SIGSEGV (segmentation fault)",
                                       "detail": "forced by the test"}}))
    monkeypatch.setenv("INSTRUCTGEN_PROBE_CACHE", str(cache))
    log = tmp_path / "server.log"
    with llama_cpp_server(embedded_model_path(), n_ctx=N_CTX, log_path=log) as url, \
            OpenAIBackend(OpenAIOptions(base_url=url, schema_mode="json_object")) as backend:
        answer = backend.generate([LLMRequest(messages=[("user", "Say hi.")], max_tokens=4,
                                              temperature=0.0)])
    assert answer[0].completion_tokens > 0
    text = log.read_text(errors="replace")
    assert "instructgen-serve: extra buffer types off" in text
    assert "forced by the test" in text  # the one warning names the stored verdict
