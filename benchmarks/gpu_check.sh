#!/usr/bin/env bash
# Transformers backend on CUDA with the embedded model: checks that constrained
# answers validate and prints tokens/s at batch 1, 16 and 64.
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
