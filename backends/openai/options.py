"""Options of the ``openai`` backend, checked when the recipe is read."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from . import wire

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_urls(_inst: Any, _attr: Any, value: Any) -> None:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ValueError("base_url: expected a URL or a non-empty list of URLs")
    for url in urls:
        wire.clean_url(url)


def _check_env_name(_inst: Any, _attr: Any, value: str | None) -> None:
    if value is not None and not _ENV_NAME.match(value):  # never echo it: it may be a key
        raise ValueError("api_key_env: expected the NAME of an environment variable (letters, "
                         "digits, underscores), not the key itself")


def _check_omit(_inst: Any, _attr: Any, value: list[str]) -> None:
    bad = [v for v in value if v not in wire.OPTIONAL_PARAMS]
    if bad:
        raise ValueError(f"omit_params: unknown parameter(s) {', '.join(map(repr, bad))} "
                         f"(valid: {', '.join(wire.OPTIONAL_PARAMS)})")


@attrs.frozen
class OpenAIOptions:
    """Options of the ``openai`` backend."""

    #: Server URL up to ``/v1`` (``http://127.0.0.1:8000/v1``), or a list of them:
    #: each request goes to the URL with the fewest requests outstanding.
    base_url: Any = attrs.field(default="http://127.0.0.1:8000/v1", validator=_check_urls)
    #: Model id as the server lists it under ``/v1/models``; empty: the only model it serves.
    model: str = ""
    #: Name of the environment variable holding the API key (never the key itself).
    api_key_env: str | None = attrs.field(default=None, validator=_check_env_name)
    #: Requests in flight at once, over all URLs (with the Ray engine: over all actors).
    max_concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    #: Seconds one attempt may take before it counts as failed and is retried.
    timeout_s: float = attrs.field(default=300.0, validator=attrs.validators.gt(0))
    #: Attempts per request on 429, 5xx, connection errors and timeouts before the run stops.
    max_attempts: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    #: First retry delay in seconds, doubled per attempt with jitter; ``Retry-After`` wins.
    backoff_s: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    #: How JSON schemas reach the server: ``response_format`` (OpenAI json_schema),
    #: ``json_object`` (llama.cpp style), ``guided_json`` (vLLM), or ``none`` (checked after).
    schema_mode: Literal["response_format", "json_object", "guided_json", "none"] = (
        "response_format")
    #: Sampling fields never sent, for servers that refuse them
    #: (any of seed, stop, temperature, top_k, top_p).
    omit_params: list[str] = attrs.field(factory=list, validator=_check_omit)

    @property
    def urls(self) -> list[str]:
        """The base URLs, cleaned, in the order given."""
        urls = [self.base_url] if isinstance(self.base_url, str) else self.base_url
        return [wire.clean_url(u) for u in urls]
