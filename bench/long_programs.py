"""Generated programs of about twenty operations, for the throughput benchmark.

`ptediff.search.strategies.programs` ends a program at each step with probability 1/4, so its
programs are short whatever `max_ops` says (the search wants that). The throughput figure is
asked for programs of about twenty operations, so this strategy chains programs drawn by the
search's own strategy until the total reaches `fewest`: each segment's `p0` stands for the
oldest process still alive, and its children get fresh names, so the chain stays valid.
(A `min_ops` knob in `programs()` would make this module unnecessary.)
"""

from __future__ import annotations

import dataclasses
from functools import cache

from hypothesis import strategies as st
from ptediff.core.program import (
    INITIAL_PROC,
    Config,
    Exit,
    Fork,
    Op,
    Parallel,
    Pin,
    Program,
    Step,
    Thread,
    iter_ops,
    renumber_pins,
)
from ptediff.search.strategies import configs, programs

SEGMENT_OPS = 12  # the search's default max_ops


@cache
def _segments(config: Config, max_ops: int) -> st.SearchStrategy[Program]:
    return programs(config=config, max_ops=max_ops)  # built once per size, not per draw


def long_programs(fewest: int = 18, most: int = 24) -> st.SearchStrategy[Program]:
    """Valid programs of `fewest` to `most` operations, in the search's style."""
    if not 1 <= fewest <= most:
        raise ValueError(f"need 1 <= fewest <= most, not {fewest}, {most}")
    return _long_programs(fewest, most)


@st.composite
def _long_programs(draw: st.DrawFn, fewest: int, most: int) -> Program:
    config = draw(configs())
    steps: list[Step] = []
    live = [INITIAL_PROC]  # in creation order
    children = 0
    count = 0
    pins = 0
    while count < fewest:
        segment = draw(_segments(config, min(SEGMENT_OPS, most - count)))
        segment = renumber_pins(segment, start=pins)  # each segment numbers its pins from 0
        pins += sum(isinstance(op, Pin) for op in segment.ops())
        names = {INITIAL_PROC: live[0]}
        for op in segment.ops():
            if isinstance(op, Fork):
                children += 1
                names[op.child] = f"p{children}"
        renamed = tuple(_rename_step(step, names) for step in segment.steps)
        for op in iter_ops(renamed):
            if isinstance(op, Fork):
                live.append(op.child)
            elif isinstance(op, Exit):
                live.remove(op.proc)
        steps.extend(renamed)
        count += len(segment.ops())
    return Program(tuple(steps), config=config)


def _rename_step(step: Step, names: dict[str, str]) -> Step:
    if isinstance(step, Parallel):
        threads = tuple(Thread(tuple(_rename(op, names) for op in t.ops)) for t in step.threads)
        return dataclasses.replace(step, threads=threads)
    return _rename(step, names)


def _rename(op: Op, names: dict[str, str]) -> Op:
    fields = [name for name in ("proc", "parent", "child") if hasattr(op, name)]
    return dataclasses.replace(op, **{name: names[getattr(op, name)] for name in fields})
