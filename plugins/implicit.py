"""Implicit (EditWorld-style) instructions: seed examples in, checked quadruples out.

A quadruple is *(original caption; implicit instruction; target caption;
keywords)*, such as ("a glass of milk on a table"; "What happens if the cat
knocks it over?"; "spilled milk and broken glass on the floor"; [glass, milk,
floor]). Plugins:

- source ``implicit_seeds``: hand-written examples, as the real
  ``{"sampleN": {...}}`` file (misspelled keys accepted), a JSON list or JSONL;
- generator ``implicit``: one conversation per seed, a first turn and
  ``continue_turns`` more, every answer an array of quadruples;
- post-processor ``implicit_dedup``: near-duplicates across seeds;
- sink ``anyedit_implicit``: the keys AnyEdit's implicit stage reads.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.context import ItemContext
from instructgen.errors import Reject, UserError
from instructgen.jsonl import iter_objects
from instructgen.manager import hookimpl
from instructgen.plugin import (
    Generator,
    GeneratorPlugin,
    PostProcessor,
    PostProcessorPlugin,
    Sink,
    SinkPlugin,
    Source,
    SourcePlugin,
)
from instructgen.records import LLMRequest, OutputRecord, SourceItem
from instructgen.text import (
    NearDuplicateIndex,
    dedup_key,
    mentions,
    normalize,
    word_count,
    words,
)

from . import implicit_prompts as prompts

#: Accepted spellings of each field, the correct one first. The real seed file
#: spells two of them wrong; the reference generator crashed on that.
FIELD_SPELLINGS: dict[str, tuple[str, ...]] = {
    "original_caption": ("original_caption",),
    "instruction": ("instruction", "instuction"),
    "target_caption": ("target_caption", "target_cation"),
    "keywords": ("key_words", "keywords"),
}
_ALL_SPELLINGS = {s for spellings in FIELD_SPELLINGS.values() for s in spellings}

# -- seed examples ------------------------------------------------------------------------


def normalize_seed(key: str, raw: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One seed sample as ``(data, extra)`` with snake_case field names.

    Raises :class:`UserError` naming the sample key and the field.
    """
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: sample {key!r}: expected an object, got {type(raw).__name__}")
    data: dict[str, Any] = {}
    for field_name, spellings in FIELD_SPELLINGS.items():
        found = next((s for s in spellings if s in raw), None)
        if found is None:
            also = [s for s in spellings if s != field_name]
            hint = f" (also accepted: {', '.join(map(repr, also))})" if also else ""
            raise UserError(f"{where}: sample {key!r}: missing field {field_name!r}{hint}")
        value = raw[found]
        if field_name == "keywords":
            if not (isinstance(value, str) or (isinstance(value, list)
                                               and all(isinstance(v, str) for v in value))):
                raise UserError(f"{where}: sample {key!r}: field {found!r} must be a string or "
                                "a list of strings")
            value = split_keywords(value)
            if not value:
                raise UserError(f"{where}: sample {key!r}: field {found!r} is empty")
        else:
            if not isinstance(value, str):
                raise UserError(f"{where}: sample {key!r}: field {found!r} must be a string, "
                                f"got {type(value).__name__}")
            value = normalize(value)
            if not value:
                raise UserError(f"{where}: sample {key!r}: field {found!r} is empty")
        data[field_name] = value
    extra = {k: v for k, v in raw.items() if k not in _ALL_SPELLINGS}
    return data, extra


def read_seed_file(path: Path, fmt: str = "auto") -> list[tuple[str, Any]]:
    """``(key, raw sample)`` pairs from a JSON dict, a JSON list or a JSONL file."""
    if not path.is_file():
        raise UserError(f"source.path: file not found: {path}")
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "json"
    if fmt == "jsonl":
        pairs = []
        for lineno, row in iter_objects(path):
            key = row.pop("id", None)
            pairs.append((str(key) if key is not None else f"line{lineno}", row))
        return pairs
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(doc, dict):
        return [(str(k), v) for k, v in doc.items()]
    if isinstance(doc, list):
        return [(f"sample{i}", v) for i, v in enumerate(doc, 1)]
    raise UserError(f"{path}: expected an object of samples or a list, got {type(doc).__name__}")


def _positive_or_none(_inst: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class ImplicitSeedsOptions:
    """Options of the ``implicit_seeds`` source."""

    #: Seed examples: ``{"sampleN": {...}}`` JSON, a JSON list, or JSONL (one object a line).
    path: Path
    #: ``auto`` picks JSONL for ``.jsonl``/``.ndjson`` files and JSON otherwise.
    format: Literal["auto", "json", "jsonl"] = "auto"
    #: Use a seeded random sample of this many examples; default: all of them.
    sample: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Seed of that sample, so the same examples are chosen on every run.
    sample_seed: int = 0


class ImplicitSeedsSource(Source):
    """Reads and checks every seed example up front: the file is small, errors come early."""

    def __init__(self, options: ImplicitSeedsOptions) -> None:
        self.options = options
        pairs = read_seed_file(options.path, options.format)
        seen: set[str] = set()
        items = []
        for key, raw in pairs:
            if key in seen:
                raise UserError(f"{options.path}: sample {key!r} appears twice")
            seen.add(key)
            data, extra = normalize_seed(key, raw, str(options.path))
            items.append(SourceItem(id=key, data=data, source=str(options.path), extra=extra))
        if not items:
            raise UserError(f"{options.path}: no seed examples")
        self._found = len(items)
        if options.sample is not None and options.sample < len(items):
            chosen = random.Random(options.sample_seed).sample(range(len(items)), options.sample)
            items = [items[i] for i in sorted(chosen)]  # keep file order: stable resume
        self.items = items

    def __iter__(self) -> Iterator[SourceItem]:
        return iter(self.items)

    def total(self) -> int:
        return len(self.items)

    def stats(self) -> Mapping[str, int]:
        return {"seeds_in_file": self._found, "seeds_used": len(self.items)}


# -- checks ------------------------------------------------------------------------------

_KEYWORD_SPLIT = re.compile(r"\s*(?:[,;/|\n]|\band\b|&)\s*", re.IGNORECASE)
_ARTICLES = {"a", "an", "the", "some"}

#: Words that open a question.
QUESTION_OPENERS = frozenset({
    "what", "how", "why", "where", "when", "which", "who", "whose", "will", "would",
    "could", "can", "does", "do", "did", "is", "are", "was", "were", "should", "might",
})
#: Words that, anywhere in the instruction, state a cause or a condition.
CAUSE_WORDS = frozenset({
    "if", "when", "after", "once", "because", "since", "until", "suppose", "imagine",
    "following",
})
#: Verbs that say something happens: "A car accident occurs." (a reference seed) is an
#: implicit instruction, where "The glass lies in a puddle." only describes a state.
EVENT_VERBS = frozenset({
    "occurs", "occur", "happens", "happen", "falls", "fall", "breaks", "break", "collapses",
    "explodes", "erupts", "bursts", "crashes", "strikes", "hits", "melts", "freezes",
    "spills", "catches", "floods", "tips", "drops", "shatters", "topples", "ignites",
    "capsizes", "arrives", "starts", "begins", "passes", "reaches", "blows", "grows",
})
#: Imperative edit verbs: an instruction opening with one says what to change, explicitly.
EDIT_VERBS = frozenset({
    "make", "change", "turn", "replace", "add", "remove", "put", "paint", "color", "colour",
    "convert", "transform", "swap", "edit", "give", "let", "draw", "insert", "delete",
    "erase", "move", "place", "alter", "modify", "render", "show", "depict", "apply",
})


def split_keywords(value: str | Sequence[str]) -> list[str]:
    """Keywords as a list: split on commas, semicolons, slashes and "and".

    Leading articles are dropped; a singular/plural repeat is dropped too.
    """
    parts = _KEYWORD_SPLIT.split(value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        ws = [w.lower() for w in words(normalize(part))]
        while ws and ws[0] in _ARTICLES:
            ws = ws[1:]
        keyword = " ".join(ws)
        if keyword and not any(_same_keyword(keyword, k) for k in out):
            out.append(keyword)
    return out


def _same_keyword(a: str, b: str) -> bool:
    """"shoe" and "shoes" are one keyword; "ice" and "ice cream" are two."""
    return len(a.split()) == len(b.split()) and mentions(b, a)


def instruction_style(
    text: str,
) -> Literal["question", "cause", "event", "explicit", "statement"]:
    """Classify an instruction; ``question``, ``cause`` and ``event`` count as implicit.

    The rule: "Let ...?" is a ``question`` (a what-if, as in the reference's
    seeds); an instruction opening with an edit verb is ``explicit``; else one
    ending in "?" or opening with a question word is a ``question``; else one
    holding a cause word (if, when, after, once, because, since, until, suppose,
    imagine, following) is a ``cause``; else one with an event verb ("a car
    accident occurs", "the vase falls") is an ``event``; anything else is a
    ``statement``.
    """
    ws = [w.lower() for w in words(text)]
    if not ws:
        return "statement"
    if ws[0] == "let" and text.rstrip().endswith("?"):
        return "question"  # "Let the bullet reach the apple?": a what-if, as in the seeds
    if ws[0] in EDIT_VERBS:
        return "explicit"
    if text.rstrip().endswith("?") or ws[0] in QUESTION_OPENERS:
        return "question"
    if CAUSE_WORDS.intersection(ws):
        return "cause"
    if EVENT_VERBS.intersection(ws):
        return "event"
    return "statement"


def dedup_text(quad: Mapping[str, Any]) -> str:
    """What two quadruples must share to be near-duplicates: the instruction and the photo."""
    return f"{quad.get('instruction', '')} {quad.get('original_caption', '')}"


@attrs.frozen
class QuadrupleRules:
    """The content checks of one quadruple; see :func:`check_quadruple`."""

    max_words: int = 20
    max_instruction_words: int = 25
    max_keywords: int = 5
    keyword_max_words: int = 2
    allow_statements: bool = False


def check_quadruple(raw: Mapping[str, Any], rules: QuadrupleRules) -> dict[str, Any]:
    """A clean quadruple, or :class:`Reject` with the first rule it breaks."""
    quad: dict[str, Any] = {}
    for name in ("original_caption", "instruction", "target_caption"):
        value = raw.get(name)
        quad[name] = normalize(value) if isinstance(value, str) else ""
        if not quad[name]:
            raise Reject("empty_field", f"{name} is empty")
    keywords = raw.get("keywords", "")
    if isinstance(keywords, list):
        keywords = [k for k in keywords if isinstance(k, str)]
    quad["keywords"] = split_keywords(keywords) if isinstance(keywords, (str, list)) else []
    if not quad["keywords"]:
        raise Reject("empty_field", "keywords is empty")
    caps = {"original_caption": rules.max_words, "target_caption": rules.max_words,
            "instruction": rules.max_instruction_words, "keywords": 3 * rules.max_keywords}
    for name, limit in caps.items():
        value = raw.get(name)
        if isinstance(value, str) and len(value) >= prompts.char_limit(limit):
            raise Reject("truncated", f"{name} was cut at the schema's length cap")
    for name in ("original_caption", "target_caption"):
        n = word_count(quad[name])
        if n > rules.max_words:
            raise Reject("too_long", f"{name} has {n} words (max_words {rules.max_words})")
    n = word_count(quad["instruction"])
    if n > rules.max_instruction_words:
        raise Reject("too_long", f"instruction has {n} words "
                                 f"(max_instruction_words {rules.max_instruction_words})")
    if dedup_key(quad["target_caption"]) == dedup_key(quad["original_caption"]):
        raise Reject("target_same_as_original", "target_caption repeats original_caption")
    long = [k for k in quad["keywords"] if len(k.split()) > rules.keyword_max_words]
    if long:
        raise Reject("bad_keywords", f"not single words or short nouns: {long!r} "
                                     f"(keyword_max_words {rules.keyword_max_words})")
    if len(quad["keywords"]) > rules.max_keywords:
        raise Reject("bad_keywords", f"{len(quad['keywords'])} keywords "
                                     f"(max_keywords {rules.max_keywords})")
    style = instruction_style(quad["instruction"])
    if style == "explicit":
        raise Reject("explicit_instruction", "instruction opens with an edit verb: "
                                             f"{quad['instruction']!r}")
    if style == "statement" and not rules.allow_statements:
        raise Reject("not_implicit", "instruction is neither a question nor a cause: "
                                     f"{quad['instruction']!r}")
    return quad


# -- generator --------------------------------------------------------------------------


@attrs.frozen
class ImplicitOptions:
    """Options of the ``implicit`` generator."""

    #: Continue turns after the first one (EditWorld used 19).
    continue_turns: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    #: Quadruples asked for in each turn (the answer may hold fewer).
    per_turn: int = attrs.field(default=5, validator=attrs.validators.in_(range(1, 51)))
    #: Most words in a caption, so a text-to-image model can draw it.
    max_words: int = attrs.field(default=20, validator=attrs.validators.ge(3))
    #: Most words in an instruction.
    max_instruction_words: int = attrs.field(default=25, validator=attrs.validators.ge(3))
    #: Most keywords per quadruple.
    max_keywords: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    #: Most words in one keyword ("ice cream" is 2).
    keyword_max_words: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    #: Accept plain statements ("The ice is left in the sun") as implicit instructions.
    allow_statements: bool = False
    #: Similarity (0-1) at which a quadruple repeats an earlier one of the same
    #: conversation, or the seed example; compared on instruction + original caption.
    dedup_threshold: float = attrs.field(default=0.9, validator=[attrs.validators.gt(0.0),
                                                                 attrs.validators.le(1.0)])
    #: Earlier exchanges kept in each prompt; default all (the first turn is always kept).
    history_turns: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0)))
    #: Kinds of change a continue turn steers towards, drawn per turn; empty: no steering.
    themes: list[str] = attrs.field(factory=lambda: list(prompts.DEFAULT_THEMES))
    #: Token limit of each answer.
    max_tokens: int = attrs.field(default=768, validator=attrs.validators.ge(16))
    #: Sampling temperature; some heat keeps continue turns from repeating themselves.
    temperature: float = attrs.field(default=0.8, validator=attrs.validators.ge(0.0))
    #: Nucleus-sampling mass.
    top_p: float = attrs.field(default=0.95, validator=[attrs.validators.gt(0.0),
                                                       attrs.validators.le(1.0)])

    @property
    def rules(self) -> QuadrupleRules:
        return QuadrupleRules(self.max_words, self.max_instruction_words, self.max_keywords,
                              self.keyword_max_words, self.allow_statements)


class ImplicitGenerator(Generator):
    """One conversation per seed example; every checked quadruple becomes a record."""

    def __init__(self, options: ImplicitOptions) -> None:
        self.options = options
        self.rules = options.rules
        self.schema = prompts.answer_schema(
            per_turn=options.per_turn, max_words=options.max_words,
            max_instruction_words=options.max_instruction_words,
            max_keywords=options.max_keywords)

    def _sizes(self) -> dict[str, int]:
        o = self.options
        return {"per_turn": o.per_turn, "max_words": o.max_words, "max_keywords": o.max_keywords}

    def _messages(self, first: list[tuple[str, str]], history: list[tuple[str, str]],
                  ask: str) -> list[tuple[str, str]]:
        """Turn 0 and its answer, the kept continue exchanges, then the new ask."""
        keep = self.options.history_turns
        kept = history if keep is None else history[-keep:] if keep else []
        return [*first, *(m for user, answer in kept
                          for m in (("user", user), ("assistant", answer))), ("user", ask)]

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        opts = self.options
        example = dict(item.data)
        seen = NearDuplicateIndex(opts.dedup_threshold)
        seen.add(dedup_text(example))  # a copy of the example is no new data
        first: list[tuple[str, str]] = [
            ("system", prompts.SYSTEM),
            ("user", prompts.first_turn(example, **self._sizes())),
        ]
        history: list[tuple[str, str]] = []  # (ask, answer) of the continue turns so far
        out: list[dict[str, Any]] = []
        for turn in range(opts.continue_turns + 1):
            theme = None
            if turn == 0:
                messages = first
            else:
                theme = prompts.theme_for(opts.themes, ctx.rng)
                ask = prompts.continue_turn(theme=theme, **self._sizes())
                messages = self._messages(first, history, ask)
            request = LLMRequest(messages=messages, max_tokens=opts.max_tokens,
                                 temperature=opts.temperature, top_p=opts.top_p,
                                 schema=self.schema)
            try:
                answer = await ctx.ask(request, stage="generate")
            except Reject as exc:
                if turn == 0 or exc.reason != "invalid_output":
                    raise  # nothing to keep: the whole seed fails
                # Later turns cannot go on without this answer; keep what we have.
                ctx.reject(exc.reason, f"turn {turn}: {exc.detail}; conversation stopped",
                           raw=exc.raw, data={"seed_example": item.id, "turn": turn})
                break
            if turn == 0:
                first = [*first, ("assistant", answer.text)]
            else:
                history.append((ask, answer.text))
            out.extend(self._accept(answer.parsed, turn, theme, item.id, seen, ctx))
        return out

    def _accept(self, parsed: Any, turn: int, theme: str | None, seed_id: str,
                seen: NearDuplicateIndex, ctx: ItemContext) -> Iterator[dict[str, Any]]:
        for index, raw in enumerate(parsed if isinstance(parsed, list) else []):
            where = {"seed_example": seed_id, "turn": turn, "index": index}
            if not isinstance(raw, Mapping):
                ctx.reject("not_an_object", f"turn {turn} item {index}", data=where)
                continue
            try:
                quad = check_quadruple(raw, self.rules)
            except Reject as rej:
                ctx.reject(rej.reason, f"turn {turn} item {index}: {rej.detail}",
                           data={**raw, **where})
                continue
            twin = seen.match(dedup_text(quad))
            if twin is not None:
                ctx.reject("near_duplicate", f"turn {turn} item {index}: similar "
                           f"({twin[1]:.2f}) to {twin[0]!r}", data={**quad, **where})
                continue
            seen.add(dedup_text(quad))
            # AnyEdit's name for this type, so its pipelines route the record.
            yield {"edit_type": "implicit_change", **quad, "seed_example": seed_id, "turn": turn,
                   **({"theme": theme} if theme else {})}


# -- post-processor ------------------------------------------------------------------------


@attrs.frozen
class ImplicitDedupOptions:
    """Options of the ``implicit_dedup`` post-processor."""

    #: Similarity (0-1) of instruction + original caption at which a record is dropped.
    threshold: float = attrs.field(default=0.9, validator=[attrs.validators.gt(0.0),
                                                           attrs.validators.le(1.0)])


class ImplicitDedup(PostProcessor):
    """Drops quadruples that repeat an earlier record of the run, whichever seed made it."""

    def __init__(self, options: ImplicitDedupOptions) -> None:
        self.options = options
        self.index = NearDuplicateIndex(options.threshold)

    def process(self, record: OutputRecord) -> OutputRecord:
        text = dedup_text(record.data)
        twin = self.index.match(text)
        if twin is not None:
            raise Reject("near_duplicate", f"similar ({twin[1]:.2f}) to an earlier record: "
                                           f"{twin[0]!r}")
        self.index.add(text)
        return record

    def restore(self, accepted: Iterable[OutputRecord]) -> None:
        for record in accepted:
            self.index.add(dedup_text(record.data))


# -- sink --------------------------------------------------------------------------------

#: The keys of the AnyEdit format, spelled correctly, mapped from our record keys.
ANYEDIT_KEYS: dict[str, str] = {
    "original_caption": "original_caption",
    "instruction": "instruction",
    "target_caption": "target_caption",
    "keywords": "key_words",
}


@attrs.frozen
class AnyEditImplicitOptions:
    """Options of the ``anyedit_implicit`` sink."""

    #: JSONL file inside the run directory, one sample a line.
    filename: str = "implicit_anyedit.jsonl"
    #: Also write the whole run as one ``{"sample1": {...}}`` JSON file; empty: don't.
    samples_file: str = "implicit_samples.json"
    #: ``string``: "egg, floor", as the hand-written file has it; ``list``: ["egg", "floor"].
    key_words: Literal["string", "list"] = "string"


class AnyEditImplicitSink(Sink):
    """Writes ``original_caption``, ``instruction``, ``target_caption``, ``key_words``."""

    def __init__(self, options: AnyEditImplicitOptions) -> None:
        self.options = options
        self.filename = options.filename

    def sample(self, record: OutputRecord) -> dict[str, Any]:
        """The four AnyEdit keys of one record."""
        out: dict[str, Any] = {}
        for ours, theirs in ANYEDIT_KEYS.items():
            if ours not in record.data:
                raise UserError(f"sink anyedit_implicit: record {record.id!r} has no {ours!r}; "
                                "this sink writes records of the implicit generator")
            out[theirs] = record.data[ours]
        if self.options.key_words == "string":
            kw = out["key_words"]
            out["key_words"] = ", ".join(kw) if isinstance(kw, list) else str(kw)
        return out

    def encode(self, record: OutputRecord) -> str:
        return json.dumps({"id": record.id, **self.sample(record)}, ensure_ascii=False,
                          separators=(",", ":"))

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        if not self.options.samples_file:
            return
        from instructgen.rundir import write_json_atomic

        samples = {f"sample{i}": self.sample(r) for i, r in enumerate(records(), 1)}
        write_json_atomic(run_dir / self.options.samples_file, samples)


# -- registration ------------------------------------------------------------------------


@hookimpl
def instructgen_sources() -> Iterator[SourcePlugin]:
    yield SourcePlugin(
        name="implicit_seeds",
        description="Hand-written implicit-edit examples (EditWorld sample file, JSON or JSONL).",
        options=ImplicitSeedsOptions,
        factory=ImplicitSeedsSource,
    )


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="implicit",
        description="EditWorld-style implicit quadruples over a multi-turn conversation per seed.",
        options=ImplicitOptions,
        factory=ImplicitGenerator,
    )


@hookimpl
def instructgen_postprocessors() -> Iterator[PostProcessorPlugin]:
    yield PostProcessorPlugin(
        name="implicit_dedup",
        description="Drop implicit quadruples that repeat an earlier one across seeds.",
        options=ImplicitDedupOptions,
        factory=ImplicitDedup,
    )


@hookimpl
def instructgen_sinks() -> Iterator[SinkPlugin]:
    yield SinkPlugin(
        name="anyedit_implicit",
        description="Implicit quadruples with the keys AnyEdit's implicit stage reads.",
        options=AnyEditImplicitOptions,
        factory=AnyEditImplicitSink,
    )
