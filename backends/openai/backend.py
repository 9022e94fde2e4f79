"""The ``openai`` backend: the options, the endpoint pool and the retrying client.

``generate`` may be called from several scheduler threads at once; every call
hands its requests to one asyncio loop running in a daemon thread, where an
``httpx.AsyncClient`` keeps connections open and a semaphore caps the requests
in flight at ``max_concurrency`` over all calls and all URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import attrs

from instructgen.backend import Backend, BackendIdentity, Completion, LLMRequest, refuse_choices
from instructgen.errors import ContextOverflowError, RunAborted, UserError
from instructgen.logs import Log, quiet_logger
from instructgen.schema import check_schema

from . import wire
from .options import OpenAIOptions

T = TypeVar("T")
#: A tiny schema the start-up probe sends, so a server that refuses the schema field says so early.
_PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}},
                 "required": ["ok"], "additionalProperties": False}


class ServerRefusedError(UserError):
    """The server answered 4xx (other than 429): retrying the same request cannot help."""


class ServerUnavailableError(RunAborted):
    """The server kept failing (429, 5xx, resets, timeouts) for ``max_attempts`` tries."""


@attrs.define
class _Endpoint:
    url: str
    outstanding: int = 0
    picked: int = 0
    down_until: float = 0.0


class _LoopThread:
    """An asyncio loop in a daemon thread, fed from any thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="instructgen-openai")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:  # Ctrl-C in the caller: stop the requests too
            future.cancel()
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


class OpenAIBackend(Backend):
    """Generation through an OpenAI-compatible chat-completions server."""

    def __init__(self, options: OpenAIOptions | None = None, *, log: Log | None = None) -> None:
        self.options = options = options or OpenAIOptions()
        #: Batches the scheduler may keep in flight: enough to fill every request slot.
        self.concurrency = options.max_concurrency
        try:
            import httpx
        except ImportError:
            raise UserError("backend openai needs httpx: pip install 'instructgen[openai]'"
                            ) from None
        self._httpx = httpx
        self.log = log or quiet_logger()
        self.urls = options.urls
        self._key = self._read_key()
        self._endpoints = [_Endpoint(u) for u in self.urls]
        self._rng = random.Random()
        self._gave_up: ServerUnavailableError | None = None
        self._seen: dict[str, Any] = {}
        self._client: Any = None
        self._loop: _LoopThread | None = _LoopThread()
        try:
            self._loop.run(self._open())
            self.model, self._identity = self._loop.run(self._probe())
        except BaseException:
            self.close()
            raise

    # -- public ----------------------------------------------------------------------------

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        if self._loop is None:
            raise RuntimeError("the openai backend is closed")
        refuse_choices("openai", requests, " (an OpenAI-compatible server gives no logits "
                       "of our choosing)")
        for req in requests:  # refuse a bad schema before anything is sent
            if req.schema is not None:
                check_schema(req.schema)
        return self._loop.run(self._answer_all(requests))

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                loop.run(self._client.aclose())
            self._client = None
        loop.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a backend dropped without close()
            self.close()

    # -- setup -------------------------------------------------------------------------------

    def _read_key(self) -> str | None:
        name = self.options.api_key_env
        if name is None:
            return None
        key = os.environ.get(name, "")
        if not key:
            # Name it only when it looks like a name: a key pasted here must not be echoed.
            shown = name if name.isupper() or len(name) < 8 else "it names"
            raise UserError(f"backend.api_key_env: the environment variable {shown} is not set")
        return key

    async def _open(self) -> None:
        httpx, opts = self._httpx, self.options
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        slots = opts.max_concurrency + len(self.urls)
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(opts.timeout_s, connect=min(opts.timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
        )
        self._slots = asyncio.Semaphore(opts.max_concurrency)

    async def _probe(self) -> tuple[str, BackendIdentity]:
        """Ask every URL for its models and one token; build the identity from the answers."""
        opts = self.options
        listed: dict[str, list[str] | None] = {}
        for ep in self._endpoints:
            status, text = await self._send(None, ep, ok=(200, 404))
            # No /models route (404) or an odd listing: trust the model option.
            listed[ep.url] = _model_ids(text) if status == 200 else None
        model = opts.model or _only_model(listed)
        for url, ids in listed.items():
            if ids is not None and model not in ids:
                raise UserError(f"backend.model: {model!r} is not served at {url} "
                                f"(it serves: {', '.join(ids) or 'nothing'})")
        probe = LLMRequest(messages=[("user", "Say OK.")], max_tokens=1, temperature=0.0,
                           seed=0, stop=("\n\n",),
                           schema=_PROBE_SCHEMA if opts.schema_mode != "none" else None)
        self.model = model
        reported, prints = set(), set()
        for ep in self._endpoints:
            body = wire.request_body(probe, model, opts.schema_mode, opts.omit_params)
            _, about = wire.parse_answer((await self._send(body, ep))[1], probe)
            reported.add(about.get("model", model))
            prints.add(about.get("system_fingerprint"))
        self._seen = {"model": reported, "system_fingerprint": prints}
        fingerprints = sorted(p for p in prints if p)
        settings: dict[str, Any] = {
            "servers": sorted(self.urls),
            "system_fingerprint": (fingerprints[0] if len(fingerprints) == 1
                                   else fingerprints or None),
            "schema_mode": opts.schema_mode,
            "omit_params": sorted(opts.omit_params),
        }
        names = sorted(reported)
        return model, BackendIdentity(name="openai", model=names[0] if len(names) == 1
                                      else " | ".join(names), settings=settings)

    # -- requests ------------------------------------------------------------------------------

    async def _answer_all(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        tasks = [asyncio.ensure_future(self._answer(r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _answer(self, request: LLMRequest) -> Completion:
        opts = self.options
        body = wire.request_body(request, self.model, opts.schema_mode, opts.omit_params)
        async with self._slots:
            _, text = await self._send(body)
        completion, about = wire.parse_answer(text, request)
        self._notice(about)
        return completion

    async def _send(self, body: dict[str, Any] | None, endpoint: _Endpoint | None = None,
                    ok: tuple[int, ...] = (200,)) -> tuple[int, str]:
        """POST a chat completion (GET the model list when ``body`` is None), retrying
        what a later attempt can fix; (status, body text) once the status is in ``ok``."""
        opts = self.options
        last = ""
        for attempt in range(1, opts.max_attempts + 1):
            if attempt > 1 and self._gave_up is not None:
                raise self._gave_up  # another request already gave up on the server
            ep = endpoint or self._pick()
            status, text, wait = await self._call(ep, body)
            if status in ok:
                self._gave_up = None
                return status, text
            if status != 429 and 0 < status < 500:
                self._raise_for(status, text, body)
            if status >= 500:
                self._raise_rejected(status, text, body)
            last = text if status == 0 else f"HTTP {status}: {wire.server_message(text)}"
            if attempt == opts.max_attempts:
                break
            delay = wait if wait is not None else wire.backoff(attempt, opts.backoff_s,
                                                                self._rng)
            self.log.warning("openai_retry", url=ep.url, attempt=attempt, status=status or None,
                             problem=self._safe(last)[:200], delay_s=round(delay, 2))
            await asyncio.sleep(delay)
        self._gave_up = ServerUnavailableError(
            f"backend openai: {endpoint.url if endpoint else ', '.join(self.urls)} gave no answer"
            f" after {opts.max_attempts} attempts (last: {self._safe(last)}); finished work is"
            " saved, rerun the same command to resume")
        raise self._gave_up

    async def _call(self, ep: _Endpoint,
                    body: dict[str, Any] | None) -> tuple[int, str, float | None]:
        """One HTTP exchange: (status, body text, Retry-After); status 0 for a network failure."""
        httpx, opts = self._httpx, self.options
        ep.outstanding += 1
        ep.picked += 1
        try:
            if body is None:
                call = self._client.get(ep.url + "/models")
            else:
                call = self._client.post(ep.url + "/chat/completions", json=body)
            resp = await asyncio.wait_for(call, opts.timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            return 0, f"no answer within timeout_s={opts.timeout_s:g}", None
        except httpx.TransportError as exc:
            ep.down_until = asyncio.get_running_loop().time() + 2 * opts.backoff_s
            detail = str(exc) or type(exc).__name__
            return 0, f"{type(exc).__name__}: {' '.join(detail.split())}", None
        finally:
            ep.outstanding -= 1
        if resp.status_code == 200:
            ep.down_until = 0.0
        return resp.status_code, resp.text, wire.retry_after(resp.headers.get("retry-after"))

    def _pick(self) -> _Endpoint:
        """The URL with the fewest requests outstanding, skipping ones that just failed."""
        now = asyncio.get_running_loop().time()
        up = [e for e in self._endpoints if e.down_until <= now] or self._endpoints
        return min(up, key=lambda e: (e.outstanding, e.picked))

    # -- errors -------------------------------------------------------------------------------

    def _safe(self, text: str) -> str:
        return wire.redact(text, self._key)

    def _raise_rejected(self, status: int, text: str, body: dict[str, Any] | None) -> None:
        name = wire.rejected_param(status, text, body) if body is not None else None
        if name is None:
            return
        if name in ("response_format", "guided_json"):
            modes = [m for m in wire.SCHEMA_MODES if m != self.options.schema_mode]
            fix = f"set backend.schema_mode to {' or '.join(map(repr, modes))}"
        else:
            fix = f"add {name!r} to backend.omit_params"
        raise ServerRefusedError(
            f"backend openai: the server refused the parameter {name!r} (HTTP {status}: "
            f"{self._safe(wire.server_message(text))}); {fix}")

    def _raise_for(self, status: int, text: str, body: dict[str, Any] | None) -> None:
        """Turn a 4xx answer (other than 429) into the right one-line error."""
        overflow, size = wire.context_overflow(status, text)
        if overflow:
            window = f" n_ctx={size}" if size else ""
            raise ContextOverflowError(
                f"prompt does not fit the server's context window{window} "
                f"({self._safe(wire.server_message(text))}); shorten the prompt or max_tokens")
        self._raise_rejected(status, text, body)
        hint = " (check the key in the environment variable named by backend.api_key_env)" \
            if status in (401, 403) else ""
        raise ServerRefusedError(f"backend openai: the server answered HTTP {status}: "
                                 f"{self._safe(wire.server_message(text))}{hint}")

    def _notice(self, about: dict[str, Any]) -> None:
        """Warn once when the server starts answering as another model or build."""
        for key in ("model", "system_fingerprint"):
            value = about.get(key)
            seen = self._seen.setdefault(key, set())
            if value and value not in seen:
                seen.add(value)
                self.log.warning("openai_server_changed", field=key, value=value,
                                 identity=self._identity.settings.get(key)
                                 if key != "model" else self._identity.model)


def _model_ids(text: str) -> list[str] | None:
    import json

    try:
        data = json.loads(text)["data"]
        return [str(m["id"]) for m in data]
    except (ValueError, KeyError, TypeError):
        return None


def _only_model(listed: dict[str, list[str] | None]) -> str:
    ids = sorted({i for found in listed.values() for i in found or ()})
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UserError("backend.model: the server does not list its models; set backend.model")
    raise UserError(f"backend.model: the servers offer several models ({', '.join(ids)}); "
                    "choose one with backend.model")
