"""What a generator sees while it works on one item: :class:`ItemContext`.

Generators are ``async def`` functions run on instructgen's own scheduler, not
on asyncio. They await only the context's methods; each ``await ctx.ask(...)``
parks the item until the runner has batched its request with those of other
items and the backend has answered.

What a plugin is handed at plan time and at setup (``BuildContext``, ``RunInfo``)
is part of the plugin contract, in :mod:`instructgen.plugin`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar, overload

import attrs

from instructgen.logs import Log

from .backend import Completion, LLMRequest
from .errors import InvalidOutput, Reject
from .records import Rejection, SourceItem
from .seeds import derive_seed

T = TypeVar("T")


class _Ask:
    """The awaitable behind :meth:`ItemContext.ask_all`: the scheduler fills ``results``."""

    __slots__ = ("requests", "results")

    def __init__(self, requests: list[LLMRequest]) -> None:
        self.requests = requests
        self.results: list[Completion] | None = None

    def __await__(self) -> Generator[_Ask, None, list[Completion]]:
        yield self
        assert self.results is not None, "resumed without results"
        return self.results


class ItemContext:
    """Per-item helpers: seeded randomness, model calls with retries, partial rejects."""

    def __init__(self, item: SourceItem, seed: int, *, max_retries: int,
                 log: Log | None = None) -> None:
        self.item = item
        #: The item's seed, derived from the run seed and ``item.id``.
        self.seed = seed
        self._rng: random.Random | None = None
        self.max_retries = max_retries
        self.log = log
        self.rejections: list[Rejection] = []
        self.calls = 0
        self.invalid_answers = 0

    @property
    def rng(self) -> random.Random:
        """A random generator seeded with the item seed, for sampling choices."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    def derive_seed(self, *salt: object) -> int:
        """A seed for a sub-choice of this item, stable across runs."""
        return derive_seed(self.seed, *salt)

    @overload
    async def ask(self, request: LLMRequest, *, stage: str = ...) -> Completion: ...

    @overload
    async def ask(
        self, request: LLMRequest, *, validate: Callable[[Completion], T], stage: str = ...
    ) -> T: ...

    async def ask(
        self,
        request: LLMRequest,
        *,
        validate: Callable[[Completion], Any] | None = None,
        stage: str = "generate",
    ) -> Any:
        """Ask the model; retry with fresh seeds until the answer validates.

        With a schema, an answer that does not parse against it is invalid.
        ``validate`` may raise :class:`InvalidOutput` to ask again. After
        ``max_retries`` retries the item is rejected with ``invalid_output``.
        """
        (value,) = await self.ask_all([request], validate=validate, stage=stage)
        return value

    async def ask_all(
        self,
        requests: Sequence[LLMRequest],
        *,
        validate: Callable[[Completion], Any] | None = None,
        stage: str = "generate",
    ) -> list[Any]:
        """Ask several independent questions at once; they share one batch."""
        call_no = self.calls
        self.calls += len(requests)
        results: list[Any] = [None] * len(requests)
        todo = list(range(len(requests)))
        last: dict[int, tuple[str, str]] = {}
        for attempt in range(self.max_retries + 1):
            batch = [_seeded(requests[i], self.seed, call_no + i, attempt) for i in todo]
            answers = await _Ask(batch)
            still = []
            for i, answer in zip(todo, answers, strict=True):
                try:
                    results[i] = _check(answer, requests[i], validate)
                except InvalidOutput as exc:
                    self.invalid_answers += 1
                    last[i] = (str(exc), answer.text)
                    still.append(i)
            todo = still
            if not todo:
                return results
        problem, raw = last[todo[0]]
        raise Reject(
            "invalid_output",
            f"{problem} (after {self.max_retries + 1} attempts)",
            stage=stage,
            raw=raw,
        )

    def reject(
        self,
        reason: str,
        detail: str = "",
        *,
        stage: str = "generate",
        raw: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that one candidate of this item was dropped, and carry on."""
        self.rejections.append(
            Rejection(item_id=self.item.id, stage=stage, plugin="", reason=reason,
                      detail=detail, raw=raw, data=dict(data) if data is not None else None)
        )


def _seeded(request: LLMRequest, item_seed: int, call_no: int, attempt: int) -> LLMRequest:
    if request.seed is not None and attempt == 0:
        return request
    base = request.seed if request.seed is not None else item_seed
    return attrs.evolve(request, seed=derive_seed(base, call_no, attempt))


def _check(answer: Completion, request: LLMRequest,
           validate: Callable[[Completion], Any] | None) -> Any:
    if answer.finish_reason == "error":
        # The backend got no usable answer (a garbled HTTP body, say): retry it even
        # for plain-text requests, whose validator might otherwise accept the debris.
        raise InvalidOutput("the backend returned no usable answer")
    if request.schema is not None and answer.parsed is None:
        from .schema import parse_json

        _, problem = parse_json(answer.text, request.schema)
        raise InvalidOutput(problem or "answer does not match the schema")
    return validate(answer) if validate is not None else answer
