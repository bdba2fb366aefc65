"""What a generated program did, as hypothesis observability *features* (`hypothesis.event`).

While observability is on (`ptediff hunt --observe FILE`, HypoFuzz, or hypothesis's own
switch) the differential property tags each test case with these events, so every observation
line carries them in its `features` object, where Tyche, jq and `ptediff stats` read them:

* `ops` (number of operations) and `op:KIND` per operation kind (`op:map`, `op:fork`, ...);
* `parallel_blocks`, `threads` (the most in one block) and `preemptions` (in the run that
  decided the outcome: the first implementation's, or the diverging one's);
* `config:swap_bits`, `config:highpte`, `config:nodes`;
* `outcome`: `agree`, `divergence` or `crash`; for a divergence `divergence` names
  `IMPL:CLASS` (the first one the property raises);
* `kfunc:NAME` per modelled kernel function the program reached, with its call count.

Payloads are numbers or short strings: hypothesis keeps features as given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import hypothesis
from ptediff.core.outcome import Outcome
from ptediff.core.program import Program
from ptediff.dsl.printer import format_program
from ptediff.search.schedules import count_preemptions

KFUNC = "kfunc:"
OP = "op:"


class RunLike(Protocol):
    """The parts of a property run (`ptediff.search.property._Run`) the features read."""

    @property
    def name(self) -> str: ...

    @property
    def outcome(self) -> Outcome | None: ...

    @property
    def cls(self) -> str | None: ...


def program_features(
    program: Program, runs: Sequence[RunLike], reached: Mapping[str, int] | None
) -> dict[str, Any]:
    """The features of one test case: the program's shape, its outcome and its coverage."""
    kinds = Counter(op.KIND for op in program.ops())
    blocks = program.blocks()
    features: dict[str, Any] = {
        "ops": sum(kinds.values()),
        **{f"{OP}{kind}": count for kind, count in sorted(kinds.items())},
        "parallel_blocks": len(blocks),
        "threads": max((len(block.threads) for block in blocks), default=1),
        "config:swap_bits": program.config.swap_bits,
        "config:highpte": "on" if program.config.highpte else "off",
        "config:nodes": program.config.nodes,
    }
    deciding = next((run for run in runs if run.cls is not None), runs[0] if runs else None)
    if deciding is None or deciding.cls is None:
        features["outcome"] = "agree"
    elif deciding.cls.startswith("crash:"):
        features["outcome"] = "crash"
        features["divergence"] = f"{deciding.name}:{deciding.cls}"
    else:
        features["outcome"] = "divergence"
        features["divergence"] = f"{deciding.name}:{deciding.cls}"
    outcome = deciding.outcome if deciding is not None else None
    features["preemptions"] = count_preemptions(outcome.trace) if outcome is not None else 0
    for name, calls in sorted((reached or {}).items()):
        features[f"{KFUNC}{name}"] = calls
    return features


def emit(program: Program, features: Mapping[str, Any]) -> None:
    """Record the features on the running hypothesis test case (observability is on), and the
    program in the DSL as a note (`metadata.notes` of the observation; printed by pytest for a
    failing fuzz test)."""
    for key, value in features.items():
        hypothesis.event(key, value)
    hypothesis.note(format_program(program))
