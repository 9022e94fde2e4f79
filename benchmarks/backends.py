"""Throughput of the llamacpp and transformers backends with the embedded model.

Measures generated tokens per second at several batch sizes, with and without
a JSON schema, next to the reference: a plain loop over
``llama_cpp.Llama.create_completion`` (one prompt at a time). Prints a
markdown table and, with ``--write-docs``, replaces the table in the
"Benchmark" section of docs/backends.md.

    python benchmarks/backends.py --write-docs
    python benchmarks/backends.py --load --write-docs   # cold and warm load times only
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from docblock import write_block

from instructgen.backend import Backend, LLMRequest
from instructgen.backends.models import embedded_model_path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "backends.md"
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
#: ``--backends openai``: the HTTP backend's table, in backends.md and in benchmarks.md.
BENCH_DOCS = DOCS.parent / "benchmarks.md"
HTTP_START, HTTP_END = "<!-- http-benchmark:start -->", "<!-- http-benchmark:end -->"
LOAD_START, LOAD_END = "<!-- load-benchmark:start -->", "<!-- load-benchmark:end -->"
#: Builds one backend in a fresh process and prints the seconds its constructor took.
LOAD_CHILD = """
import sys, time
started = time.perf_counter()
if sys.argv[1] == "llamacpp":
    import llama_cpp
    from instructgen.backends.llamacpp import LlamaCppBackend as B, LlamaCppOptions as O
else:
    import torch, transformers
    from instructgen.backends.hf import TransformersBackend as B, TransformersOptions as O
imported = time.perf_counter()
backend = B(O(n_ctx=512))
print(f"{time.perf_counter() - imported:.3f} {imported - started:.3f}")
"""
HTTP_CONCURRENCY = (1, 4, 16)
TOPICS = ["a lighthouse", "a red bicycle", "the ocean", "a mountain village", "an old map",
          "a snowy forest", "a robot", "a market", "a violin", "a desert road", "a kitten",
          "a castle", "a storm", "a garden", "a train station", "a library"]
SCHEMA = {
    "type": "object",
    "properties": {
        "instruction": {"type": "string", "minLength": 1, "maxLength": 120},
        "difficulty": {"enum": ["easy", "medium", "hard"]},
    },
    "required": ["instruction", "difficulty"],
    "additionalProperties": False,
}


def requests(n: int, max_tokens: int, schema: dict | None) -> list[LLMRequest]:
    return [
        LLMRequest(
            messages=[
                ("system", "You write image-editing instructions."),
                ("user", f"Write an instruction to edit a photo of {TOPICS[i % len(TOPICS)]}."),
            ],
            max_tokens=max_tokens, temperature=0.7, seed=i, schema=schema,
        )
        for i in range(n)
    ]


def measure(run: Callable[[], int]) -> float:
    start = time.perf_counter()
    tokens = run()
    return tokens / (time.perf_counter() - start)


def bench_backend(backend: Backend, batches: Sequence[int], max_tokens: int) -> dict:
    # Warm-up: compute graphs for both shapes, the grammar tokenizer.
    backend.generate(requests(1, 8, None))
    backend.generate(requests(2, 4, SCHEMA))
    out = {}
    for schema in (None, SCHEMA):
        for n in batches:
            reqs = requests(n, max_tokens, schema)
            out[(n, schema is not None)] = measure(
                lambda reqs=reqs: sum(c.completion_tokens for c in backend.generate(reqs))
            )
            print(f"  batch {n:>2} {'json ' if schema else 'plain'}: "
                  f"{out[(n, schema is not None)]:.1f} tok/s", flush=True)
    return out


def bench_reference(batches: Sequence[int], max_tokens: int, threads: int) -> dict:
    from llama_cpp import Llama

    llm = Llama(str(embedded_model_path()), n_ctx=512, n_threads=threads, verbose=False)
    out = {}
    for n in batches:
        reqs = requests(n, max_tokens, None)

        def loop(reqs: list[LLMRequest] = reqs) -> int:
            total = 0
            for r in reqs:
                res = llm.create_chat_completion(
                    [{"role": m.role, "content": m.content} for m in r.messages],
                    max_tokens=r.max_tokens, temperature=r.temperature, seed=r.seed,
                )
                total += res["usage"]["completion_tokens"]
            return total

        out[(n, False)] = measure(loop)
        print(f"  reference loop, {n:>2} prompts: {out[(n, False)]:.1f} tok/s", flush=True)
    return out


def bench_http(n: int, max_tokens: int, threads: int) -> dict[str, dict]:
    """The openai backend against llama-cpp-python's server, next to in-process llamacpp.

    Both answer the same ``n`` requests; a column is the server backend's
    ``max_concurrency`` and, in process, ``n_seq_max``. Cells alternate between the
    two so that a change in machine load hits both alike.
    """
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
    from instructgen.backends.openai import OpenAIBackend, OpenAIOptions
    from instructgen.backends.openai.local import llama_cpp_server

    http, local = "openai → llama-cpp-python server", "llamacpp in-process"
    out: dict[str, dict] = {http: {}, local: {}}
    with llama_cpp_server(embedded_model_path(), n_ctx=512, n_threads=threads) as url:
        for c in HTTP_CONCURRENCY:
            for name, backend in (
                (http, lambda c=c: OpenAIBackend(OpenAIOptions(
                    base_url=url, schema_mode="json_object", max_concurrency=c))),
                (local, lambda c=c: LlamaCppBackend(LlamaCppOptions(
                    n_ctx=512, n_seq_max=c, n_threads=threads))),
            ):
                with backend() as b:
                    b.generate(requests(2, 4, SCHEMA))  # warm-up: connections, grammars
                    for schema in (None, SCHEMA):
                        reqs = requests(n, max_tokens, schema)
                        out[name][(c, schema is not None)] = rate = measure(
                            lambda b=b, reqs=reqs: sum(x.completion_tokens
                                                       for x in b.generate(reqs)))
                        print(f"  {name}, concurrency {c:>2}, "
                              f"{'json ' if schema else 'plain'}: {rate:.1f} tok/s", flush=True)
    return out


def bench_load(backends: Sequence[str], rounds: int) -> dict[str, dict[str, float]]:
    """Seconds to build each backend in a fresh process: cold (empty user cache) and warm.

    Cold: the sha256 memo and the transformers GGUF conversion cache are empty,
    as on a first run. Warm: the same cache again, as on every later run (and
    in every replica or Ray actor after the first). The OS page cache holds the
    GGUF in both. Best of ``rounds`` fresh processes each.
    """
    import subprocess
    import sys
    import tempfile

    out: dict[str, dict[str, float]] = {}
    for name in backends:
        cold, warm, imports = [], [], []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as xdg:
                env = {**os.environ, "XDG_CACHE_HOME": xdg}
                for times in (cold, warm):
                    done = subprocess.run([sys.executable, "-c", LOAD_CHILD, name], env=env,
                                          capture_output=True, text=True, check=True)
                    times.append(float(done.stdout.split()[-2]))
                    imports.append(float(done.stdout.split()[-1]))
        out[name] = {"imports": min(imports), "cold": min(cold), "warm": min(warm)}
        print(f"  {name}: imports {out[name]['imports']:.1f} s, cold {out[name]['cold']:.1f} s,"
              f" warm {out[name]['warm']:.1f} s", flush=True)
    return out


def load_table(loads: dict[str, dict[str, float]], rounds: int) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [f"Seconds to build a backend with the embedded SmolLM2-135M Q4_1 in a fresh "
             f"process (the constructor; importing llama_cpp, or torch and transformers, "
             f"before it is its own column), best of {rounds}; {cpu}, "
             f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f} at "
             f"the end. Cold: empty user cache (first run); warm: the cache the cold load "
             f"left.", "",
             "| backend | imports s | cold load s | warm load s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {t['imports']:.1f} | {t['cold']:.1f} | {t['warm']:.1f} |"
              for name, t in loads.items()]
    return "\n".join(lines)


def table(results: dict[str, dict], batches: Sequence[int], header: str) -> str:
    lines = [header, "", "| backend | schema | " + " | ".join(f"batch {n}" for n in batches) + " |",
             "|---|---|" + "---|" * len(batches)]
    for name, res in results.items():
        for constrained in (False, True):
            if (batches[0], constrained) not in res:
                continue
            cells = " | ".join(f"{res[(n, constrained)]:.1f}" for n in batches)
            lines.append(f"| {name} | {'json' if constrained else 'none'} | {cells} |")
    return "\n".join(lines)


def targets(results: dict[str, dict]) -> str:
    lines = ["", "| target | measured | met |", "|---|---|---|"]

    def row(label: str, value: float, goal: float) -> None:
        lines.append(f"| {label} | {value:.2f}x | {'yes' if value >= goal else 'no'} |")

    if "llamacpp" in results:
        r = results["llamacpp"]
        row("llamacpp batch 16 ≥ 3x batch 1", r[(16, False)] / r[(1, False)], 3.0)
        row("llamacpp JSON batch 16 ≥ 0.8x plain batch 16", r[(16, True)] / r[(16, False)], 0.8)
    if "transformers" in results:
        r = results["transformers"]
        row("transformers batch 16 ≥ 4x batch 1", r[(16, False)] / r[(1, False)], 4.0)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,4,16,32")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--backends", default="llamacpp,transformers",
                        help="any of llamacpp, transformers, openai (the HTTP backend against "
                             "llama-cpp-python's server, its own table)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--load", action="store_true",
                        help="only measure cold and warm load times of --backends (own table)")
    parser.add_argument("--load-rounds", type=int, default=2)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    wanted = args.backends.split(",")
    if args.load:
        print("load times (fresh processes)", flush=True)
        text = load_table(bench_load([b for b in wanted if b in ("llamacpp", "transformers")],
                                     args.load_rounds), args.load_rounds)
        print()
        print(text)
        if args.write_docs:
            write_block(DOCS, LOAD_START, LOAD_END, text)
            write_block(BENCH_DOCS, LOAD_START, LOAD_END, text)
        return
    results: dict[str, dict] = {}
    if "llamacpp" in wanted:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        print("llamacpp", flush=True)
        with LlamaCppBackend(LlamaCppOptions(n_ctx=512, n_seq_max=max(batches),
                                             n_threads=args.threads)) as b:
            results["llamacpp"] = bench_backend(b, batches, args.max_tokens)
        print("reference: llama_cpp.Llama.create_chat_completion loop", flush=True)
        results["reference loop (Llama)"] = bench_reference(batches, args.max_tokens, args.threads)
    if "transformers" in wanted:
        from instructgen.backends.hf import TransformersBackend, TransformersOptions

        print("transformers", flush=True)
        with TransformersBackend(TransformersOptions(n_ctx=512, batch_size=max(batches),
                                                     n_threads=args.threads)) as b:
            results["transformers"] = bench_backend(b, batches, args.max_tokens)

    if "openai" in wanted:
        print("openai (HTTP) vs llamacpp (in process), 16 requests", flush=True)
        http = bench_http(16, args.max_tokens, args.threads)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        header = (f"Generated tokens per second over the same 16 requests, embedded SmolLM2-135M"
                  f" Q4_1, max_tokens={args.max_tokens}, temperature 0.7; columns: the openai "
                  f"backend's max_concurrency, or llamacpp's n_seq_max; "
                  f"{platform.processor() or platform.machine()}, {args.threads} threads for "
                  f"the server and for llamacpp, load average before the run ended: {load}.")
        text = table(http, HTTP_CONCURRENCY, header).replace("| batch ", "| concurrency ")
        print()
        print(text)
        if args.write_docs:
            write_block(DOCS, HTTP_START, HTTP_END, text)
            write_block(BENCH_DOCS, HTTP_START, HTTP_END, text)
    if not results:
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    header = (f"Generated tokens per second, embedded SmolLM2-135M Q4_1, max_tokens="
              f"{args.max_tokens}, temperature 0.7; {platform.processor() or platform.machine()},"
              f" {args.threads} threads, load average before the run ended: {load}.")
    text = table(results, batches, header) + "\n" + targets(results)
    print()
    print(text)
    if args.write_docs:
        write_block(DOCS, START, END, text)


if __name__ == "__main__":
    main()
