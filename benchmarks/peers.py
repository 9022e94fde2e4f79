"""instructgen next to its peers on one workload: distilabel, a plain llama-cpp-python loop.

    python benchmarks/peers.py                  # builds the distilabel venv once, 3 rounds
    python benchmarks/peers.py --write          # and update docs/benchmarks.md

The workload: 32 short chat prompts (one shared instruction and a topic, up
to 48 tokens each), answered with at most 48 new tokens at temperature 0.7 by
the embedded SmolLM2-135M GGUF on the CPU, with as many threads as this
process may use. Each tool runs as a whole process (import, model load,
generation, exit) timed from outside; the tools alternate within each round,
the order rotating between rounds, and the median wall time of each counts.

- ``distilabel``: distilabel 1.5.3, ``TextGeneration`` with ``LlamaCppLLM``, in
  a separate virtual environment the script builds under ``/tmp`` (distilabel
  pins packages this project does not want). That venv reuses this project's
  llama-cpp-python (a ``.pth`` line) instead of building another one.
- ``plain``: ``llama_cpp.Llama.create_chat_completion`` in a loop, one prompt
  at a time (it keeps the previous prompt's KV cache and skips the common prefix).
- ``instructgen``: ``instructgen.run`` with the ``prompt`` generator and the
  llamacpp backend, batch 32, call cache off.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from docblock import write_block

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- peer-benchmarks:begin -->", "<!-- peer-benchmarks:end -->"
PEERS_VENV = Path(os.environ.get("INSTRUCTGEN_PEERS_VENV", "/tmp/instructgen-peers"))
DISTILABEL = "distilabel==1.5.3"
INSTRUCTION = "Write one short caption for a photo of"
TOPICS = ["a lighthouse at dusk", "a red bicycle", "the ocean at noon", "a mountain village",
          "an old paper map", "a snowy forest", "a small robot", "a busy market", "a violin",
          "a desert road", "a sleeping kitten", "a stone castle", "a summer storm",
          "a rose garden", "a train station", "a quiet library", "a fishing boat",
          "a city skyline", "a bowl of soup", "a wooden bridge", "a hot air balloon",
          "a chess board", "a field of tulips", "a vintage car", "a frozen lake",
          "a street musician", "a lemon tree", "a rainy window", "a campfire",
          "a pair of boots", "a night market", "a windmill"]
MAX_TOKENS = 48
TEMPERATURE = 0.7


def prompts() -> list[str]:
    return [f"{INSTRUCTION} {topic}." for topic in TOPICS]


def model_path() -> str:
    from instructgen.backends.models import embedded_model_path

    path = embedded_model_path()
    if path is None:
        raise SystemExit("the embedded model is not installed (pip install 'instructgen[models]')")
    return str(path)


# -- the three tools, each run as its own process ------------------------------------------


def run_plain(model: str, threads: int) -> int:
    from llama_cpp import Llama

    llm = Llama(model, n_ctx=512, n_threads=threads, verbose=False)
    tokens = 0
    for i, text in enumerate(prompts()):
        out = llm.create_chat_completion([{"role": "user", "content": text}],
                                         max_tokens=MAX_TOKENS, temperature=TEMPERATURE, seed=i)
        tokens += out["usage"]["completion_tokens"]
    return tokens


def run_instructgen(model: str, threads: int) -> int:
    import instructgen

    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        items = Path(tmp) / "topics.jsonl"
        items.write_text("".join(json.dumps({"topic": t}) + "\n" for t in TOPICS))
        summary = instructgen.run({
            "seed": 1,
            "source": {"name": "jsonl", "path": str(items)},
            "generator": {"name": "prompt", "template": INSTRUCTION + " {topic}.",
                          "max_tokens": MAX_TOKENS, "temperature": TEMPERATURE},
            "backend": {"name": "llamacpp", "model": model, "n_ctx": 512, "n_threads": threads},
            "batch_size": len(TOPICS),
            "output_dir": str(Path(tmp) / "run"),
            "cache": {"enabled": False},
        }, fresh=True)
        return summary.completion_tokens


DISTILABEL_SCRIPT = r'''
import json, sys
from distilabel.models.llms import LlamaCppLLM
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromDicts
from distilabel.steps.tasks import TextGeneration

model, threads, max_tokens, temperature = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    float(sys.argv[4])
data = json.loads(sys.stdin.read())
with Pipeline(name="instructgen-peers") as pipeline:
    load = LoadDataFromDicts(data=[{"instruction": p} for p in data], batch_size=len(data))
    llm = LlamaCppLLM(model_path=model, n_ctx=512, n_gpu_layers=0,
                      verbose=False, extra_kwargs={"n_threads": threads})
    gen = TextGeneration(llm=llm, input_batch_size=len(data),
                         add_raw_output=False, add_raw_input=False)
    load >> gen
if __name__ == "__main__":
    out = pipeline.run(use_cache=False, parameters={gen.name: {"llm": {"generation_kwargs": {
        "max_new_tokens": max_tokens, "temperature": temperature}}}})
    rows = out["default"]["train"]
    print(json.dumps({"answers": sum(1 for r in rows if r.get("generation"))}))
'''


def peers_python() -> Path:
    """The distilabel venv's interpreter, built on first use."""
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        print(f"building {PEERS_VENV} with {DISTILABEL} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    check = subprocess.run([str(py), "-c", "import distilabel"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", DISTILABEL], check=True)
    # Reuse this environment's llama-cpp-python (last on the path: distilabel's own
    # dependencies win) rather than compiling llama.cpp a second time.
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    pth = Path(site.stdout.strip()) / "instructgen_llama_cpp.pth"
    pth.write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py


def run_distilabel(model: str, threads: int) -> int:
    """Runs the pipeline in the peers venv (the timing includes that process)."""
    with tempfile.TemporaryDirectory(prefix="peers-distilabel-") as tmp:
        script = Path(tmp) / "pipeline.py"
        script.write_text(DISTILABEL_SCRIPT)
        env = {**os.environ, "DISTILABEL_CACHE_DIR": tmp}
        out = subprocess.run([str(peers_python()), str(script), model, str(threads),
                              str(MAX_TOKENS), str(TEMPERATURE)], input=json.dumps(prompts()),
                             capture_output=True, text=True, env=env, cwd=tmp)
    if out.returncode != 0:
        raise SystemExit(f"distilabel failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["answers"]


TOOLS = {"distilabel": run_distilabel, "plain": run_plain, "instructgen": run_instructgen}


def timed(tool: str, threads: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one whole process running ``tool``.

    The peak is the largest resident set of that process or of any process it
    waited for (``wait4``'s ``ru_maxrss``): for distilabel, its pipeline's step
    processes are included, one at a time, not summed.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", tool, "--threads",
                                 str(threads)], stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{tool} failed:\n{err.read().decode(errors='replace')[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def table(walls: dict[str, list[float]], threads: int, load: str,
          peaks: dict[str, list[float]] | None = None) -> str:
    med = {tool: statistics.median(w) for tool, w in walls.items()}
    peaks = peaks or {}
    mem = {tool: max(m) for tool, m in peaks.items() if m}
    rounds = max(len(w) for w in walls.values())
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {threads} threads, "
        f"load average at the end: {load} (near 0: an otherwise idle machine); 32 prompts, "
        f"{MAX_TOKENS} new tokens at most, SmolLM2-135M Q4_1 on the CPU; whole processes, "
        f"median of {rounds} alternating rounds; peak RSS: the largest of the rounds.",
        "",
        "| tool | median wall s | runs (s) | peak RSS MB |",
        "|---|---:|---|---:|",
    ]
    for tool, w in walls.items():
        peak = f"{mem[tool]:.0f}" if tool in mem else "-"
        lines.append(f"| {tool} | {med[tool]:.1f} | {', '.join(f'{x:.1f}' for x in w)} | "
                     f"{peak} |")
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    if "instructgen" in med and "distilabel" in med:
        r = med["instructgen"] / med["distilabel"]
        lines.append(f"| instructgen wall ≤ 0.45x distilabel | {r:.2f}x | "
                     f"{'yes' if r <= 0.45 else 'no'} |")
    if "instructgen" in med and "plain" in med:
        r = med["plain"] / med["instructgen"]
        lines.append(f"| instructgen ≥ 1.3x faster than the plain loop | {r:.2f}x | "
                     f"{'yes' if r >= 1.3 else 'no'} |")
    if "instructgen" in mem and "distilabel" in mem:
        r = mem["instructgen"] / mem["distilabel"]
        lines.append(f"| instructgen peak RSS ≤ 1.5x distilabel's | {r:.2f}x | "
                     f"{'yes' if r <= 1.5 else 'no'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tools", default="distilabel,plain,instructgen")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--setup", action="store_true", help="only build the distilabel venv")
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--child", choices=sorted(TOOLS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.setup:
        print(peers_python())
        return
    if args.child:
        print(json.dumps({"tokens": TOOLS[args.child](model_path(), args.threads)}))
        return
    tools = args.tools.split(",")
    if "distilabel" in tools:
        peers_python()  # built before the clock starts
    walls: dict[str, list[float]] = {t: [] for t in tools}
    peaks: dict[str, list[float]] = {t: [] for t in tools}
    for rnd in range(args.rounds):
        order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]
        for tool in order:
            wall, peak = timed(tool, args.threads)
            walls[tool].append(wall)
            peaks[tool].append(peak)
            print(f"round {rnd + 1} {tool}: {wall:.1f} s, peak RSS {peak:.0f} MB", flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = table(walls, args.threads, load, peaks)
    print()
    print(text)
    if args.write:
        write_block(DOC, BEGIN, END, text, insert=lambda doc, block: doc.replace(
            "\n## Backends\n", f"\n## Peers\n\n{block}\n\n## Backends\n", 1))


if __name__ == "__main__":
    main()
