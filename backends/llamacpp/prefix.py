"""The llamacpp backend's prompt-prefix cache, kept between ``generate`` calls.

Prompts share long prefixes (chat header, a type's instructions, its few-shot
examples). In llama.cpp's unified KV cache a cell can belong to several
sequences, so a prefix decoded once can be handed to another sequence with
``llama_memory_seq_cp`` at no compute. :class:`PrefixCache` keeps such
prefixes (everything before a prompt's last message) in sequence ids reserved
for it, least recently used dropped first, within ``prefix_cache_tokens``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


def common_prefix(a: Any, b: Any, limit: int) -> int:
    """Length of the common prefix of two token arrays, at most ``limit``."""
    n = min(len(a), len(b), limit)
    if n <= 0:
        return 0
    import numpy as np

    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


class PrefixCache:
    """Prompt prefixes kept between calls in reserved sequence ids, least recently used out first.

    An entry's KV cells are shared with the sequence it was copied from, so
    keeping it costs no compute; ``budget`` bounds the cells entries hold
    (counted per entry, so cells shared by two entries count twice).
    """

    #: Shorter prefixes are not worth a sequence id.
    MIN_TOKENS = 16

    def __init__(self, lc: Any, memory: Any, ids: list[int], budget: int) -> None:
        self.lc, self.memory, self.budget = lc, memory, budget
        self.ids = list(ids)
        self.free = list(reversed(ids))
        self.entries: OrderedDict[int, Any] = OrderedDict()  # id -> tokens, oldest first
        self.tokens = 0

    def match(self, arr: Any, limit: int) -> tuple[int, int]:
        """(tokens, sequence id) of the entry sharing the longest prefix with ``arr``."""
        best, best_id = 0, -1
        for sid, tokens in self.entries.items():
            n = common_prefix(tokens, arr, limit)
            if n > best:
                best, best_id = n, sid
        return best, best_id

    def touch(self, sid: int) -> None:
        self.entries.move_to_end(sid)

    def insert(self, src: int, tokens: Any) -> None:
        """Keep ``tokens`` (positions 0.. of sequence ``src``) unless an entry covers them."""
        n = len(tokens)
        if n < self.MIN_TOKENS or n > self.budget:
            return
        for sid, known in list(self.entries.items()):
            common = common_prefix(known, tokens, n)
            if common == n:  # an entry as long or longer already serves these prompts
                self.touch(sid)
                return
            if common == len(known):  # a shorter entry this one supersedes
                self._drop(sid)
        while self.entries and (self.tokens + n > self.budget or not self.free):
            self._drop(next(iter(self.entries)))
        sid = self.free.pop()
        self.lc.llama_memory_seq_cp(self.memory, src, sid, 0, n)
        self.entries[sid] = tokens
        self.tokens += n

    def _drop(self, sid: int) -> None:
        self.lc.llama_memory_seq_rm(self.memory, sid, -1, -1)
        self.tokens -= len(self.entries.pop(sid))
        self.free.append(sid)

    def forget(self) -> None:
        """Drop the index after the caller cleared the whole KV cache."""
        self.entries.clear()
        self.tokens = 0
        self.free = list(reversed(self.ids))

