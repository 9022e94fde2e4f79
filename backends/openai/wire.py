"""What goes over the wire to an OpenAI-compatible server, and what comes back.

Pure functions, no HTTP library: request bodies, answer parsing, reading
error bodies, ``Retry-After`` and backoff. Kept apart from the client so the
fault handling can be tested without a server.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from instructgen.backend import Completion, LLMRequest, json_completion

from ..chat import first_stop

#: How a JSON schema reaches the server (see docs/backends.md for which server takes which).
SCHEMA_MODES = ("response_format", "json_object", "guided_json", "none")
#: Sampling parameters that ``omit_params`` may leave out of every request.
OPTIONAL_PARAMS = ("seed", "stop", "temperature", "top_k", "top_p")
#: Longest server text kept in an error message or an unusable answer.
MAX_TEXT = 2000
#: Longest wait between two attempts, whatever ``Retry-After`` or the backoff say.
MAX_DELAY_S = 120.0
_OVERFLOW = re.compile(
    r"context[_ ]length[_ ]exceeded|maximum context length|context window|"
    r"exceeds? the (?:model'?s? )?(?:maximum )?context|prompt is too long|too many tokens",
    re.I,
)
_CONTEXT_SIZE = re.compile(
    r"(?:maximum context length is|context window of|context length of|n_ctx[=: ]+)\s*(\d+)",
    re.I,
)
_BODY_LOC = re.compile(r"""[(\[]\s*['"]body['"]\s*,\s*['"](\w+)['"]""")
_PARAM_WORDS = re.compile(
    r"unrecogni[sz]ed|unsupported|not supported|unknown|not allowed|not permitted|"
    r"extra (?:inputs|fields)|validation error|invalid|input should be",
    re.I,
)


def clean_url(url: str) -> str:
    """``url`` without a trailing slash; refuses credentials, queries and other schemes.

    The base URL ends up in recipes, manifests and the backend identity, so it
    must never carry a secret: keys go in the environment (``api_key_env``).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url: expected an http:// or https:// URL such as "
                         "http://127.0.0.1:8000/v1")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError("base_url: credentials do not belong in the URL; put the key in an "
                         "environment variable and name it with api_key_env")
    if parts.query or parts.fragment:
        raise ValueError("base_url: a query string or fragment is not allowed (it could hold a"
                         " key); pass keys through api_key_env")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def request_body(
    request: LLMRequest, model: str, schema_mode: str, omit: Sequence[str]
) -> dict[str, Any]:
    """The chat-completions body for one request.

    ``top_k`` is not an OpenAI field: it travels as an extra top-level field,
    which vLLM, SGLang, llama.cpp and llama-cpp-python read.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "max_tokens": request.max_tokens,
    }
    wanted = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k if request.top_k > 0 else None,
        "seed": request.seed,
        "stop": list(request.stop) or None,
    }
    body.update({k: v for k, v in wanted.items() if v is not None and k not in omit})
    schema = request.schema
    if schema is not None:
        if schema_mode == "response_format":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(schema)},
            }
        elif schema_mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": dict(schema)}
        elif schema_mode == "guided_json":
            body["guided_json"] = dict(schema)
    return body


def parse_answer(text: str, request: LLMRequest) -> tuple[Completion, dict[str, Any]]:
    """A completion from a 200 response body, plus what the server said about itself.

    A body that is not a chat completion becomes an *unusable* answer
    (``finish_reason = "error"``, the raw body as text): never cached, and
    invalid for a schema request, so the runner retries it like a bad answer.
    """
    try:
        data = json.loads(text)
        choice = data["choices"][0]
        content = choice["message"].get("content") or ""
        if not isinstance(content, str):
            raise TypeError("content is not text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Completion(text=text[:MAX_TEXT], finish_reason="error"), {}
    usage = data.get("usage") if isinstance(data.get("usage"), Mapping) else {}
    finish = "length" if choice.get("finish_reason") == "length" else "stop"
    cut = first_stop(content, request.stop, 0) if request.stop else None
    if cut is not None:  # a server that leaves the stop string in the text
        content, finish = content[:cut], "stop"
    if request.schema is not None:
        content = _compact(content)
    completion = json_completion(
        content, request.schema, finish_reason=finish,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
    )
    about = {k: data[k] for k in ("model", "system_fingerprint") if data.get(k)}
    return completion, about


def _compact(text: str) -> str:
    """JSON answers re-written without whitespace, as the in-process backends give them."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def server_message(text: str) -> str:
    """The human part of an error body, on one line."""
    message: Any = text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        err = data.get("error", data)
        if isinstance(err, Mapping):
            message = err.get("message") or err.get("detail") or err
        else:
            message = err
        if "detail" in data and not isinstance(data.get("error"), Mapping):
            message = data["detail"]
    line = " ".join(str(message).split())
    return line if len(line) <= 300 else line[:297] + "..."


def rejected_param(status: int, text: str, body: Mapping[str, Any]) -> str | None:
    """The request field a server refused, when an error body names one we sent.

    Looks at OpenAI's ``error.param``, FastAPI/pydantic ``loc`` lists and the
    message text. A 5xx counts only when it reads like a validation error
    (llama-cpp-python answers 500 for those), so real outages still retry.
    """
    sent = [k for k in (*OPTIONAL_PARAMS, "response_format", "guided_json") if k in body]
    if not sent or status in (408, 409, 429):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if status < 500 and isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping) and err.get("param") in sent:
            return str(err["param"])
        detail = data.get("detail")
        if isinstance(detail, list):
            for item in detail:
                loc = item.get("loc") if isinstance(item, Mapping) else None
                hit = [p for p in loc or () if p in sent]
                if hit:
                    return str(hit[0])
    if not _PARAM_WORDS.search(text) or (status >= 500 and "validation" not in text.lower()):
        return None
    located = _BODY_LOC.findall(text)  # a pydantic location printed in the message
    if located:
        return next((name for name in located if name in sent), None)
    for name in sent:
        if re.search(rf"(?<![\w-]){name}(?![\w-])", text):
            return name
    return None


def context_overflow(status: int, text: str) -> tuple[bool, int | None]:
    """Whether an error says the prompt does not fit, and the window size if it gives one."""
    if status not in (400, 413, 422) or not _OVERFLOW.search(text):
        return False, None
    found = _CONTEXT_SIZE.search(text)
    return True, int(found.group(1)) if found else None


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_DELAY_S)


def backoff(attempt: int, base_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: about ``base * 2**(attempt-1)``, between half and all."""
    delay = min(MAX_DELAY_S, base_s * 2 ** (attempt - 1))
    return delay * rng.uniform(0.5, 1.0)


def redact(text: str, secret: str | None) -> str:
    """``text`` with the API key blanked out, should a server echo it back."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text
