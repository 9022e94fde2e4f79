"""Does the judge discriminate? A labelled set from our own examples, and its balanced accuracy.

Good cases are the edit types' hand-written examples, asked with their own
type's judge question. Bad cases corrupt each of them in a known way:

* ``other_instruction``: the edit and output of another example of the type,
  on this caption;
* ``wrong_type``: the example asked with another type's judge question;
* ``unchanged_output``: the output caption is the input caption;
* ``object_not_in_caption``: for types that edit an existing object, the
  object in the instruction is swapped for one the caption does not name.

:func:`evaluate` asks a backend each case in one of three modes: ``json`` (the
generator's constrained ``{"answer": ...}``), ``text`` (one word) and
``score`` (P(yes) against P(no) from the first answer token's logits, asked
through ``generate`` with ``choices`` as the generator asks it; yes when
P(yes) >= ``threshold``; backends that cannot score are skipped).
Balanced accuracy, the mean of the yes-rate on good cases and the no-rate on
bad ones, is 0.5 for a judge that always says yes.

    python -m instructgen.plugins.edits.judge_eval --backend transformers --modes score

measures a local backend with its default (the embedded) model and prints the
result as JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast

import attrs

from instructgen.backend import Backend, LLMRequest, ScoringUnsupportedError
from instructgen.errors import InvalidOutput
from instructgen.text import mentions

from .checks import object_phrase
from .prompts import judge_request, parse_verdict, score_verdict
from .types import EditType

Mode = Literal["json", "text", "score"]
#: Objects swapped in for ``object_not_in_caption``; the first one the caption lacks is used.
STRANGERS = ("giraffe", "piano", "volcano", "submarine")


@attrs.frozen
class Case:
    """One labelled judge question."""

    etype: EditType
    caption: str
    result: Mapping[str, str]
    label: bool
    kind: str


def labelled_set(types: Iterable[EditType], per_type: int = 2) -> list[Case]:
    """Good cases from the first ``per_type`` examples of each type, and their corruptions."""
    types = list(types)
    cases: list[Case] = []
    for n, etype in enumerate(types):
        other_type = types[(n + 1) % len(types)]
        for i, ex in enumerate(etype.examples[:per_type]):
            good = ex.result()
            cases.append(Case(etype, ex.input, good, True, "good"))
            other = etype.examples[(i + 1) % len(etype.examples)]
            cases.append(Case(etype, ex.input, {**good, "edit": other.edit,
                                                "output": other.output},
                              False, "other_instruction"))
            if other_type is not etype:
                cases.append(Case(other_type, ex.input, good, False, "wrong_type"))
            cases.append(Case(etype, ex.input, {**good, "output": ex.input}, False,
                              "unchanged_output"))
            obj = good.get("edited_object")
            if obj and any(c.name == "edited_object_not_in_input" for c in etype.checks):
                core = object_phrase(obj)
                stranger = next(s for s in STRANGERS if not mentions(ex.input, s))
                if core and core in good["edit"]:
                    cases.append(Case(etype, ex.input, {
                        **good, "edit": good["edit"].replace(core, stranger),
                        "output": good["output"].replace(core, stranger),
                        "edited_object": stranger}, False, "object_not_in_caption"))
    return cases


def _verdicts(backend: Backend, cases: Sequence[Case], mode: Mode, threshold: float,
              batch: int) -> list[bool]:
    requests: list[LLMRequest] = [
        judge_request(c.etype, c.caption, c.result, mode=mode, temperature=0.2)
        for c in cases]
    if mode != "score":  # scored requests keep their fixed seed, as in the generator
        requests = [attrs.evolve(r, seed=1000 + i) for i, r in enumerate(requests)]
    parse = (parse_verdict(mode) if mode != "score"
             else lambda answer: score_verdict(threshold)(answer)[0])
    verdicts = []
    for start in range(0, len(requests), batch):
        for answer in backend.generate(requests[start:start + batch]):
            try:
                verdicts.append(parse(answer) == "yes")
            except InvalidOutput:  # the generator rejects an unreadable verdict too
                verdicts.append(False)
    return verdicts


def evaluate(backend: Backend, cases: Sequence[Case], mode: Mode = "json", *,
             threshold: float = 0.5, batch: int = 16) -> dict[str, Any]:
    """Balanced accuracy of the judge in ``mode`` on ``cases``, with per-kind yes rates."""
    verdicts = _verdicts(backend, cases, mode, threshold, batch)
    said_yes: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for case, yes in zip(cases, verdicts, strict=True):
        total[case.kind] += 1
        said_yes[case.kind] += yes
    good = [v for c, v in zip(cases, verdicts, strict=True) if c.label]
    bad = [v for c, v in zip(cases, verdicts, strict=True) if not c.label]
    tpr = sum(good) / len(good) if good else 0.0
    tnr = (len(bad) - sum(bad)) / len(bad) if bad else 0.0
    return {"mode": mode, "n": len(cases), "balanced_accuracy": round((tpr + tnr) / 2, 3),
            "yes_rate_good": round(tpr, 3), "no_rate_bad": round(tnr, 3),
            "yes_rate_by_kind": {k: round(said_yes[k] / total[k], 3) for k in sorted(total)}}


def evaluate_backend(backend: Backend, modes: Sequence[Mode] = ("json", "text", "score"),
                     per_type: int = 2) -> dict[str, Any]:
    """Every mode the backend supports, on the labelled set of the builtin types."""
    from . import BUILTIN_EDIT_TYPES

    cases = labelled_set([t for t in BUILTIN_EDIT_TYPES if t.default_mix], per_type)
    results = {}
    for mode in modes:
        try:
            results[mode] = evaluate(backend, cases, mode)
        except ScoringUnsupportedError:  # only score mode asks for scores
            continue
    return {"n": len(cases), "kinds": dict(Counter(c.kind for c in cases)),
            "balanced_accuracy": {m: r["balanced_accuracy"] for m, r in results.items()},
            "modes": results}


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the judge on a local backend's default model; print the result as JSON."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m instructgen.plugins.edits.judge_eval",
                                 description=main.__doc__)
    ap.add_argument("--backend", choices=("llamacpp", "transformers"), default="llamacpp")
    ap.add_argument("--modes", default="json,text,score",
                    help="comma-separated, of json, text, score (default: all three)")
    ap.add_argument("--per-type", type=int, default=1,
                    help="good examples per edit type (default 1: 51 cases)")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = [m for m in modes if m not in ("json", "text", "score")]
    if unknown or not modes:
        ap.error(f"--modes: {', '.join(unknown) or 'none given'} (known: json, text, score)")
    if args.per_type < 1:
        ap.error("--per-type: must be at least 1")
    backend: Backend
    if args.backend == "transformers":
        from instructgen.backends.hf import TransformersBackend, TransformersOptions

        backend = TransformersBackend(TransformersOptions(n_ctx=2048))
    else:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        backend = LlamaCppBackend(LlamaCppOptions(n_ctx=2048))
    try:
        result = evaluate_backend(backend, cast("list[Mode]", modes), per_type=args.per_type)
    finally:
        backend.close()
    print(json.dumps({"backend": backend.identity.name, "model": backend.identity.model,
                      "quantization": backend.identity.quantization, **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
