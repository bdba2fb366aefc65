"""HypoFuzz targets: the differential property as ordinary hypothesis tests.

`test_impl_agrees_with_spec[IMPL]` generates programs exactly as `ptediff hunt` does and checks
that the registered implementation IMPL agrees with the spec (one test per implementation, so
HypoFuzz spreads its effort and its dashboard shows each model on its own line). `postfix` is
the campaign's target; the pre-fix variants diverge by design, so their tests fail at once and
show that the fuzzer, the database and the replay work.

    hypothesis fuzz -- --pyargs ptediff.fuzz              # all cores, dashboard on :9999
    hypothesis fuzz -- --pyargs ptediff.fuzz -k postfix   # the post-fix model only
    python -m pytest --pyargs ptediff.fuzz                # one ordinary pytest run

Failures land in hypothesis's example database (`.hypothesis/examples`, or the one
`PTEDIFF_DB` names with `--hypothesis-profile ptediff-db`, for a directory or a Redis URL);
the pytest plugin records each collected target there, and `ptediff hunt --db ...` replays the
targets' failures first and saves them as `.pte` files with `--save`.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from ptediff import impls
from ptediff.core.program import Program
from ptediff.search.property import DifferentialProperty, resolve_impls
from ptediff.search.strategies import programs

SCHEDULE_VARIANTS = 4  # as in a hunt (ptediff.search.hunt): each drawn schedule, rotated


@functools.cache
def _property(impl: str) -> DifferentialProperty:
    return DifferentialProperty(resolve_impls([impl]), schedule_variants=SCHEDULE_VARIANTS)


@pytest.mark.parametrize("impl", list(impls.REGISTRY))
@settings(deadline=None)  # a program's cost depends on its size: timing is never a divergence
@given(program=programs())
def test_impl_agrees_with_spec(impl: str, program: Program) -> None:
    _property(impl)(program)
