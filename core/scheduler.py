"""The scheduler: runs many items' generator coroutines and batches their requests.

Each item's coroutine runs until it parks on a model request
(``await ctx.ask``). Parked requests are first looked up in the cache, all at
once, then gathered into backend calls of up to ``batch_size``. Answers resume
their items. Finished items leave in source order as :class:`ItemOutcome`.

The scheduler knows nothing about files: the local runner commits outcomes to
the run directory, and the Ray engine ships them from actors to the driver.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from instructgen.logs import Log

from .backend import Backend, Completion, LLMRequest
from .cache import CallCache
from .context import ItemContext, _Ask
from .counters import Counters
from .errors import ContextOverflowError, Reject, UserError
from .plugin import Generator
from .records import Rejection, SourceItem
from .seeds import derive_seed

if TYPE_CHECKING:
    from .recipe import Recipe


@attrs.frozen
class ItemOutcome:
    """What became of one item: payloads or an error, plus dropped candidates."""

    index: int
    item: SourceItem
    seed: int
    payloads: list[Mapping[str, Any]] | None
    error: Rejection | None
    rejections: list[Rejection]
    invalid_answers: int


class _Work:
    """One item in flight."""

    __slots__ = ("coro", "ctx", "done", "error", "index", "item", "result", "waiting")

    def __init__(self, index: int, item: SourceItem, ctx: ItemContext, coro: Any) -> None:
        self.index, self.item, self.ctx, self.coro = index, item, ctx, coro
        self.done = False
        self.result: Any = None
        self.error: Reject | None = None
        self.waiting: _Ask | None = None

    def fail(self, rej: Reject) -> None:
        if not self.done:
            self.coro.close()
            self.done, self.error = True, rej

    def outcome(self, generator_name: str) -> ItemOutcome:
        ctx = self.ctx
        rejections = [attrs.evolve(r, plugin=r.plugin or generator_name) for r in ctx.rejections]
        error = self.error
        if error is None and not _is_payload_list(self.result):
            error = Reject("plugin_error", f"generator returned {type(self.result).__name__}, "
                           "expected a list of mappings", stage="generate")
        if error is not None:
            rej = Rejection(item_id=self.item.id, stage=error.stage or "generate",
                            plugin=generator_name, reason=error.reason, detail=error.detail,
                            raw=error.raw, data=dict(self.item.data))
            return ItemOutcome(self.index, self.item, ctx.seed, None, rej, rejections,
                               ctx.invalid_answers)
        return ItemOutcome(self.index, self.item, ctx.seed, [dict(p) for p in self.result], None,
                           rejections, ctx.invalid_answers)


class _Parked:
    """A request waiting for an answer, and where the answer goes."""

    __slots__ = ("ask", "key", "pos", "request", "work")

    def __init__(self, work: _Work, ask: _Ask, pos: int, request: LLMRequest, key: str | None):
        self.work, self.ask, self.pos, self.request, self.key = work, ask, pos, request, key


def in_flight_window(recipe: Recipe, backend: Backend) -> int:
    """Items worked on at once by one scheduler: the recipe's ``in_flight``, else enough
    to keep each of the backend's concurrent batches full, twice over (at least 8).

    The one window rule: the local engine sizes its scheduler's window with it (a
    replica pool's concurrency is its replica count), and so does each Ray actor for
    its one backend.
    """
    return recipe.in_flight or max(2 * recipe.batch_size * max(1, int(backend.concurrency)), 8)


class Scheduler:
    """Steps item coroutines and feeds the backend full batches."""

    def __init__(
        self,
        generator: Generator,
        generator_name: str,
        backend: Backend,
        cache: CallCache | None,
        *,
        run_seed: int,
        batch_size: int,
        window: int,
        max_retries: int,
        log: Log,
        counters: Counters | None = None,
    ) -> None:
        self.generator, self.generator_name = generator, generator_name
        self.backend, self.cache = backend, cache
        self.run_seed, self.batch_size, self.window = run_seed, batch_size, window
        self.max_retries, self.log = max_retries, log
        self.counters = counters if counters is not None else Counters()
        #: Batches the backend can take at once (replica pools take several).
        self.concurrency = max(1, int(backend.concurrency))
        self._pending: collections.deque[_Parked] = collections.deque()
        self._unchecked: list[_Parked] = []
        self._inflight: dict[int, _Work] = {}
        self._calls: dict[cf.Future[list[Completion | Reject]], list[_Parked]] = {}
        self._pool: cf.ThreadPoolExecutor | None = None

    # -- the loop --------------------------------------------------------------------------

    def run(self, items: Iterable[tuple[int, SourceItem]]) -> Iterator[ItemOutcome]:
        """Yield one outcome per item, in the order of ``items``."""
        source = iter(items)
        exhausted = False
        next_out: int | None = None
        try:
            while True:
                while not exhausted and len(self._inflight) < self.window:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    index, item = nxt
                    if not isinstance(item, SourceItem):
                        raise UserError(f"the source yielded {type(item).__name__}, "
                                        "expected SourceItem")
                    if next_out is None:
                        next_out = index
                    self._start(index, item)
                self._serve_from_cache()
                released = False
                while next_out in self._inflight and self._inflight[next_out].done:
                    yield self._inflight.pop(next_out).outcome(self.generator_name)
                    next_out += 1
                    released = True
                if not self._inflight and exhausted:
                    return
                if released and not exhausted:
                    continue  # room in the window: start more items before a partial batch
                if not self._advance(partial_ok=True):
                    raise RuntimeError("scheduler stalled: items in flight but no requests")
        finally:
            self._shutdown()

    def _advance(self, *, partial_ok: bool) -> bool:
        """Send a batch to the backend, or wait for one to come back; False if neither."""
        pending = self._pending
        if pending and len(self._calls) < self.concurrency and (
                len(pending) >= self.batch_size or (partial_ok and not self._calls)):
            self._submit([pending.popleft() for _ in range(min(self.batch_size, len(pending)))])
            if self.concurrency == 1:
                self._collect(wait=False)
            return True
        if self._calls:
            self._collect(wait=True)
            return True
        return False

    # -- items ------------------------------------------------------------------------------

    def _start(self, index: int, item: SourceItem) -> None:
        seed = derive_seed(self.run_seed, item.id)
        ctx = ItemContext(item, seed, max_retries=self.max_retries, log=self.log)
        try:
            coro = self.generator.generate(item, ctx)
        except Exception as exc:  # a plain (non-async) generate that raised at once
            coro = _raise(exc)
        work = _Work(index, item, ctx, coro)
        self._inflight[index] = work
        self._step(work, None)

    def _step(self, work: _Work, value: Any) -> None:
        """Run the item until it parks on requests or finishes."""
        try:
            ask = work.coro.send(value)
        except StopIteration as stop:
            work.done, work.result = True, stop.value
            return
        except Reject as rej:
            work.done, work.error = True, rej
            return
        except UserError:
            raise
        except Exception as exc:  # one item's bug must not stop the run
            work.done = True
            work.error = Reject("plugin_error", f"{type(exc).__name__}: {exc}", stage="generate")
            return
        if not isinstance(ask, _Ask):
            work.fail(Reject("plugin_error", f"generator awaited {ask!r}; generators may only "
                             "await ctx.ask / ctx.ask_all", stage="generate"))
            return
        work.waiting = ask
        ask.results = [None] * len(ask.requests)  # type: ignore[list-item]
        queue = self._unchecked if self.cache else self._pending
        for pos, req in enumerate(ask.requests):
            key = self.cache.key(req) if self.cache else None
            queue.append(_Parked(work, ask, pos, req, key))

    def _resume(self, work: _Work) -> None:
        ask, work.waiting = work.waiting, None
        assert ask is not None
        self._step(work, ask.results)

    # -- answers ----------------------------------------------------------------------------

    def _serve_from_cache(self) -> None:
        """One cache query for everything parked since the last look."""
        cache = self.cache
        while self._unchecked:
            assert cache is not None
            batch, self._unchecked = self._unchecked, []
            hits = cache.get_many(list({p.key for p in batch if p.key}))
            ready = []
            for parked in batch:
                hit = hits.get(parked.key or "")
                if hit is None:
                    self._pending.append(parked)
                    continue
                self.counters.cache_hits += 1
                if self._fill(parked, hit):
                    ready.append(parked.work)
            for work in ready:
                if not work.done:
                    self._resume(work)

    def _fill(self, parked: _Parked, answer: Completion) -> bool:
        """Store an answer; True when it completes what its item waits for."""
        results = parked.ask.results
        assert results is not None
        results[parked.pos] = answer
        return parked.work.waiting is parked.ask and all(r is not None for r in results)

    def _submit(self, batch: list[_Parked]) -> None:
        requests = [p.request for p in batch]
        if self.concurrency == 1:
            future: cf.Future[list[Completion | Reject]] = cf.Future()
            try:
                future.set_result(self._timed_generate(requests))
            except BaseException as exc:
                future.set_exception(exc)
        else:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(self.concurrency,
                                                   thread_name_prefix="instructgen-backend")
            future = self._pool.submit(self._timed_generate, requests)
        self._calls[future] = batch

    def _collect(self, *, wait: bool) -> None:
        if wait:
            done, _ = cf.wait(self._calls, return_when=cf.FIRST_COMPLETED)
        else:
            done = {f for f in self._calls if f.done()}
        for future in done:
            batch = self._calls.pop(future)
            answers = future.result()  # a crashed backend stops the run here
            self._absorb(batch, answers)

    def _absorb(self, batch: list[_Parked], answers: list[Completion | Reject]) -> None:
        c = self.counters
        c.backend_calls += 1
        c.requests += len(batch)
        tokens = prompt = decoded = 0
        to_cache = []
        ready: list[_Work] = []
        for parked, answer in zip(batch, answers, strict=True):
            if isinstance(answer, Reject):
                parked.work.fail(answer)
                continue
            prompt += answer.prompt_tokens
            decoded += (answer.prompt_tokens if answer.prompt_tokens_decoded is None
                        else answer.prompt_tokens_decoded)
            c.completion_tokens += answer.completion_tokens
            tokens += answer.completion_tokens
            if parked.key:
                to_cache.append((parked.key, answer))
            if self._fill(parked, answer):
                ready.append(parked.work)
        c.prompt_tokens += prompt
        c.prompt_tokens_decoded += decoded
        if self.cache and to_cache:
            self.cache.put_many(to_cache)
        self.log.debug("batch_done", size=len(batch), tokens=tokens, prompt_tokens=prompt,
                       prompt_tokens_decoded=decoded, pending=len(self._pending),
                       in_flight=len(self._inflight))
        for work in ready:
            if not work.done:
                self._resume(work)

    def _timed_generate(self, requests: list[LLMRequest]) -> list[Completion | Reject]:
        t0 = time.perf_counter()
        try:
            return self._generate(requests)
        finally:
            self.counters.backend_s += time.perf_counter() - t0

    def _generate(self, requests: list[LLMRequest]) -> list[Completion | Reject]:
        """One backend call; a prompt too long for the context rejects only its item."""
        try:
            answers = self.backend.generate(requests)
        except ContextOverflowError as exc:
            if len(requests) == 1:
                return [Reject("context_overflow", str(exc), stage="generate")]
            out: list[Completion | Reject] = []
            for req in requests:
                out.extend(self._generate([req]))
            return out
        if len(answers) != len(requests):
            raise RuntimeError(f"backend returned {len(answers)} answers for "
                               f"{len(requests)} requests")
        return list(answers)

    def _shutdown(self) -> None:
        for work in self._inflight.values():
            if not work.done:
                work.coro.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


async def _raise(exc: BaseException) -> Any:
    """A coroutine that fails at once: a generator that raised before its first await."""
    raise exc


def _is_payload_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, Mapping) for v in value)
