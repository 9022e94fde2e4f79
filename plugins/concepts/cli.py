"""``instructgen concepts merge|dedup|stats|filter``: tools for concept-pool files.

Every command reads any accepted pool shape (see docs/concepts.md); outputs
are written in the merged shape by default, which keeps each concept's
provenance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instructgen.errors import UserError

if TYPE_CHECKING:
    from instructgen.backend import Backend
    from instructgen.plan import Stage

    from .pool import ConceptPool, PoolShape

_SHAPES = ("merged", "dict", "list")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``concepts`` command group to an argparse subparsers object."""
    group = subparsers.add_parser(
        "concepts", help="merge, deduplicate, count and filter concept pools",
        description="Tools for concept-pool files (lists of names, concepts+backgrounds, "
                    "concept->backgrounds dictionaries, c2b output).")
    sub = group.add_subparsers(dest="concepts_command", metavar="COMMAND", required=True,
                               help="what to do; see instructgen concepts COMMAND --help")

    p = sub.add_parser(
        "merge", help="merge pool files of any shape into one, keeping provenance",
        description="Merge pool files of any accepted shape into one file; concepts with the "
                    "same name are merged and keep every file they came from.")
    _input_args(p)
    _output_args(p)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser(
        "dedup", help="merge concepts that name the same thing",
        description="Merge concepts equal after normalization and lemmas, then near-duplicate "
                    "names (rapidfuzz), then, with sentence-transformers installed, names "
                    "with similar embeddings.")
    _input_args(p)
    _output_args(p)
    p.add_argument("--fuzzy", type=float, default=0.92, metavar="T",
                   help="rapidfuzz similarity (0-1) for near-duplicate names; 0 turns it off "
                        "(default 0.92)")
    p.add_argument("--embedding-threshold", type=float, default=0.9, metavar="T",
                   help="cosine similarity for embedding near-duplicates (default 0.9)")
    p.add_argument("--embedding-model", default="all-MiniLM-L6-v2", metavar="NAME",
                   help="sentence-transformers model (default all-MiniLM-L6-v2)")
    p.add_argument("--no-embeddings", action="store_true",
                   help="skip the embedding step even when sentence-transformers is installed")
    p.set_defaults(func=cmd_dedup)

    p = sub.add_parser(
        "stats", help="counts per source and backgrounds per concept",
        description="Print how many concepts each source file gave and how many "
                    "backgrounds the concepts have.")
    _input_args(p)
    p.add_argument("--per-concept", action="store_true",
                   help="also list the background count of every concept")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "filter", help="keep concepts a model says can be photographed",
        description="Ask the backend, for every concept, whether it is a concrete object "
                    "that can be photographed; keep the yes answers and record them all.")
    _input_args(p)
    _output_args(p)
    p.add_argument("--llm", action="store_true",
                   help='ask the backend "a concrete object that can be photographed?"')
    p.add_argument("--backend", default="llamacpp", help="backend plugin (default llamacpp)")
    p.add_argument("--model", default=None, help="the backend's model option")
    p.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="another backend option, TOML value (repeatable)")
    p.add_argument("--batch-size", type=int, default=16, help="questions per backend call")
    p.add_argument("--seed", type=int, default=0, help="seed of the questions")
    p.add_argument("--answers", type=Path, default=None,
                   help="JSONL of every answer (default: OUTPUT with .answers.jsonl)")
    p.add_argument("--keep-unclear", action="store_true",
                   help="keep concepts whose answer was neither yes nor no")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser(
        "curate", help="the reference's rule filters: nouns, no names or models, categories",
        description="Drop concepts that are person names, proper nouns or models, or whose "
                    "head word is not a noun; collapse fine-grained classes into their "
                    "category; drop concepts with fewer than --min-backgrounds backgrounds. "
                    "Every drop is written with its filter and reason.")
    _input_args(p)
    _output_args(p)
    p.add_argument("--keep-non-nouns", action="store_true",
                   help="skip the noun-only filter")
    p.add_argument("--keep-proper-nouns", action="store_true",
                   help="skip the person-name, proper-noun and model filter")
    p.add_argument("--no-collapse", action="store_true",
                   help="keep fine-grained classes instead of merging them into their category")
    p.add_argument("--min-backgrounds", type=int, default=5, metavar="N",
                   help="drop concepts with fewer backgrounds (default 5, as the reference; "
                        "0: keep all)")
    p.add_argument("--dropped", type=Path, default=None,
                   help="JSONL of every dropped concept (default: OUTPUT with .dropped.jsonl)")
    p.set_defaults(func=cmd_curate)


def _input_args(p: argparse.ArgumentParser) -> None:
    """The pool files every subcommand reads, and how an ambiguous shape is read."""
    p.add_argument("inputs", nargs="+", type=Path, metavar="POOL",
                   help="pool files in any accepted shape")
    p.add_argument("--pool-shape", default="auto", metavar="SHAPE",
                   choices=("auto", "concept_backgrounds", "dataset_classes"),
                   help="how a {key: [strings]} input is read: concept_backgrounds (SynCLR) "
                        "or dataset_classes (classname.json); auto refuses that shape")


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, help="pool file to write")
    p.add_argument("--shape", choices=_SHAPES, default="merged",
                   help="merged (default, keeps provenance), dict {concept: [backgrounds]}, "
                        "or list of names")


def _load(paths: list[Path], shape: PoolShape = "auto") -> ConceptPool:
    from instructgen.plugins.concepts.pool import load_pool

    return load_pool(paths, shape=shape)


def _check_output(args: argparse.Namespace) -> None:
    if args.output.resolve() in {p.resolve() for p in args.inputs}:
        raise UserError(f"{args.output}: output would overwrite an input; choose another -o")


def _write(pool: ConceptPool, args: argparse.Namespace) -> None:
    from instructgen.plugins.concepts.tools import write_pool

    write_pool(pool, args.output, args.shape)
    if args.shape != "merged":
        print(f"note: --shape {args.shape} drops provenance; use --shape merged to keep it",
              file=sys.stderr)


def cmd_merge(args: argparse.Namespace) -> int:
    _check_output(args)
    pool = _load(args.inputs, args.pool_shape)
    _write(pool, args)
    print(f"merged {len(args.inputs)} file(s): {len(pool)} concepts "
          f"({pool.merged_duplicates} duplicate entries merged) -> {args.output}")
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    from instructgen.plugins.concepts.tools import (
        EMBEDDINGS_MISSING,
        dedup_pool,
        sentence_transformer_embedder,
    )

    for name in ("fuzzy", "embedding_threshold"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise UserError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")
    _check_output(args)
    pool = _load(args.inputs, args.pool_shape)
    embed = None
    if args.no_embeddings:
        method = "embeddings off (--no-embeddings)"
    else:
        embed = sentence_transformer_embedder(args.embedding_model)
        method = f"embeddings {args.embedding_model}" if embed else "no embeddings"
        if embed is None:
            fuzzy = " and fuzzy matching" if args.fuzzy else ""
            print(f"note: {EMBEDDINGS_MISSING}{fuzzy}.", file=sys.stderr)
    out, report = dedup_pool(pool, fuzzy_threshold=args.fuzzy or None,
                             embedding_threshold=args.embedding_threshold, embed=embed)
    _write(out, args)
    m = report.merges
    print(f"dedup: {pool.merged_duplicates + report.before} entries -> {report.after} concepts "
          f"({pool.merged_duplicates} exact, {len(m['lemma'])} lemma, {len(m['fuzzy'])} fuzzy, "
          f"{len(m['embedding'])} embedding; {method}) -> {args.output}")
    for kind, pairs in m.items():
        for kept, dropped in pairs[:20]:
            print(f"  {kind}: {dropped!r} -> {kept!r}")
        if len(pairs) > 20:
            print(f"  {kind}: and {len(pairs) - 20} more")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from instructgen.plugins.concepts.tools import pool_stats

    stats = pool_stats(_load(args.inputs, args.pool_shape))
    if not args.per_concept:
        stats.pop("per_concept")
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=1))
        return 0
    print(f"concepts: {stats['concepts']} ({stats['merged_duplicates']} duplicate entries merged)")
    print(f"with backgrounds: {stats['with_backgrounds']}; shared backgrounds: "
          f"{stats['shared_backgrounds']}")
    spread = stats["backgrounds_per_concept"]
    if spread:
        print("backgrounds per concept (those with any): " +
              ", ".join(f"{k} {v}" for k, v in spread.items()))
    print("per source:")
    for src, row in stats["per_source"].items():
        print(f"  {src}: {row['concepts']} concepts, {row['with_backgrounds']} with backgrounds")
    for name, n in stats.get("per_concept", {}).items():
        print(f"  {n:4d}  {name}")
    return 0


def _backend(args: argparse.Namespace) -> Backend:
    """The ``--backend`` plugin, found and prepared (its model resolved) like a recipe's."""
    from instructgen.plan import resolve_stage
    from instructgen.recipe import parse_override

    options: dict[str, Any] = {}
    if args.model is not None:
        options["model"] = args.model
    for text in args.backend_option:
        keys, value = parse_override(text)
        if len(keys) != 1:
            raise UserError(f"--backend-option {text!r}: expected KEY=VALUE")
        options[keys[0]] = value
    stage: Stage[Backend] = resolve_stage(args.registry, "backend", args.backend, options,
                                          f"backend {args.backend}", name_key="--backend")
    return stage.build()


def cmd_filter(args: argparse.Namespace) -> int:
    from instructgen.plugins.concepts.pool import ConceptPool
    from instructgen.plugins.concepts.tools import ask_photographable

    if not args.llm:
        raise UserError("concepts filter: nothing to filter by; add --llm to ask the backend")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    _check_output(args)
    pool = _load(args.inputs, args.pool_shape)
    answers_path = args.answers or args.output.with_suffix(".answers.jsonl")
    backend = _backend(args)
    kept = ConceptPool()
    kept.shared_backgrounds = list(pool.shared_backgrounds)
    tally = {"yes": 0, "no": 0, "unclear": 0}
    try:
        answers_path.parent.mkdir(parents=True, exist_ok=True)
        with answers_path.open("w", encoding="utf-8") as out:
            names = [c.name for c in pool]
            for name, answer, raw in ask_photographable(backend, names,
                                                        batch_size=args.batch_size,
                                                        seed=args.seed):
                tally[answer] += 1
                keep = answer == "yes" or (answer == "unclear" and args.keep_unclear)
                out.write(json.dumps({"concept": name, "answer": answer, "kept": keep,
                                      "raw": raw}, ensure_ascii=False) + "\n")
                if keep:
                    concept = pool.get(name)
                    assert concept is not None
                    kept.add(concept.name, concept.backgrounds, concept.sources,
                             {**concept.notes, "photographable": answer})
    except OSError as exc:
        raise UserError(f"{answers_path}: cannot write answers ({exc})") from None
    finally:
        backend.close()
    _write(kept, args)
    print(f"filter: asked about {len(pool)} concepts: {tally['yes']} yes, {tally['no']} no, "
          f"{tally['unclear']} unclear; kept {len(kept)} -> {args.output} "
          f"(answers in {answers_path})")
    return 0


def cmd_curate(args: argparse.Namespace) -> int:
    from instructgen.plugins.concepts.tools import curate_pool

    if args.min_backgrounds < 0:
        raise UserError(f"--min-backgrounds must be 0 or more, got {args.min_backgrounds}")
    _check_output(args)
    pool = _load(args.inputs, args.pool_shape)
    kept, report = curate_pool(pool, nouns=not args.keep_non_nouns,
                               proper_nouns=not args.keep_proper_nouns,
                               collapse=not args.no_collapse,
                               min_backgrounds=args.min_backgrounds)
    dropped_path = args.dropped or args.output.with_suffix(".dropped.jsonl")
    try:
        dropped_path.parent.mkdir(parents=True, exist_ok=True)
        dropped_path.write_text("".join(json.dumps(d.as_json(), ensure_ascii=False) + "\n"
                                        for d in report.dropped), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{dropped_path}: cannot write the dropped concepts ({exc})") from None
    _write(kept, args)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items())) or "none"
    print(f"curate: {report.before} concepts -> {report.after}; dropped: {counts}; "
          f"collapsed {len(report.collapsed)} into their category; word list: "
          f"{report.word_list} (dropped concepts in {dropped_path})")
    return 0
