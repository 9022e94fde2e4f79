#!/usr/bin/env bash
# Transformers backend on CUDA with the embedded model: checks that constrained
# answers validate and prints tokens/s at batch 1, 16 and 64. Then llama.cpp on
# CUDA with prefix reuse off and on (needs a CUDA build of llama-cpp-python).
# Not run in CI (no GPU there); run it by hand on a CUDA machine:
#   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import time

import torch

from instructgen.backends.hf import TransformersBackend, TransformersOptions
from instructgen.records import LLMRequest
from instructgen.schema import validate

if not torch.cuda.is_available():
    raise SystemExit("gpu_check: no CUDA device visible")
print("device:", torch.cuda.get_device_name(0))
schema = {"type": "object", "properties": {"caption": {"type": "string", "maxLength": 80}},
          "required": ["caption"], "additionalProperties": False}


def reqs(n, schema=None):
    return [LLMRequest(messages=[("system", "Be brief."),
                                 ("user", f"Describe photo number {i} in one sentence.")],
                       max_tokens=64, temperature=0.7, seed=i, schema=schema) for i in range(n)]


backend = TransformersBackend(TransformersOptions(device="cuda", batch_size=64, n_ctx=1024))
print("identity:", backend.identity)
backend.generate(reqs(4))  # warm-up
for n in (1, 16, 64):
    torch.cuda.synchronize()
    t = time.perf_counter()
    out = backend.generate(reqs(n))
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    print(f"batch {n:>2}: {sum(c.completion_tokens for c in out) / dt:8.1f} tok/s")
out = backend.generate(reqs(64, schema))
bad = [c.text for c in out if c.parsed is None or validate(c.parsed, schema)]
print(f"json batch 64: {64 - len(bad)}/64 valid")
if bad:
    raise SystemExit(f"invalid constrained answers: {bad[:3]}")
PY

# Prefix reuse on CUDA (issue 14): llama.cpp with every layer on the GPU, the same
# 64 edit requests with prefix reuse off and on; wall time, decoded share of the
# prompt tokens, valid answers, and greedy agreement between the two.
python - <<'PY'
import random
import time

import llama_cpp

from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES
from instructgen.plugins.edits.prompts import edit_request, sample_examples

if not llama_cpp.llama_supports_gpu_offload():
    print("prefix check skipped: llama-cpp-python is a CPU build; reinstall it with "
          "CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall llama-cpp-python")
    raise SystemExit(0)
types = [t for t in BUILTIN_EDIT_TYPES if t.name != "textual"]
rng = random.Random(0)
reqs = []
for i in range(64):
    etype = types[i % len(types)]
    examples = sample_examples(etype, 5, rng, sets=4)
    reqs.append(edit_request(etype, f"a dog sitting on a red sofa, photo {i}", examples,
                             max_tokens=96, temperature=0.0))
answers = {}
for label, share, cache in (("off", False, 0), ("on", True, 8192)):
    with LlamaCppBackend(LlamaCppOptions(n_gpu_layers=-1, flash_attn=True, n_seq_max=64,
                                         share_prefixes=share,
                                         prefix_cache_tokens=cache)) as backend:
        backend.generate(reqs[:2])  # warm-up (and, with the cache on, a first prefix)
        t = time.perf_counter()
        out = backend.generate(reqs)
        dt = time.perf_counter() - t
    prompt = sum(c.prompt_tokens for c in out)
    decoded = sum(c.prompt_tokens_decoded for c in out)
    valid = sum(c.parsed is not None for c in out)
    answers[label] = [c.text for c in out]
    print(f"llamacpp cuda, prefix reuse {label:>3}: {dt:6.2f} s, prompt tokens {prompt}, "
          f"decoded {decoded} ({decoded / prompt:.0%}), valid {valid}/64")
same = sum(a == b for a, b in zip(answers["off"], answers["on"], strict=True))
print(f"greedy answers identical with and without reuse: {same}/64")
PY
