"""ptediff: property-based differential testing of Linux memory-management code.

The public surface, in data-flow order (text → program → spec and models → judgement → search):

* `parse(text, filename)`, `parse_file(path)` → `Program` (with its `Config`);
  `format_program(program)` prints it back.
* `programs()` is the hypothesis strategy of programs; `differential_test(impls)` wraps the
  differential property as an ordinary ``@given`` test.
* `check(program, impl)` → `Judgement` (``judgement.agrees`` / ``judgement.divergence``).
* `hunt(...)` searches for divergences, `explore(program, impls)` enumerates schedules.
* `Kernel` is the post-fix kernel model to subclass for a plug-in; `load_impl` resolves a name or
  ``package.module:Class``; `REGISTRY` lists the registered models.
* `PtediffError` and its subclasses are every error ptediff raises for a user mistake;
  `DivergenceFound` is what the differential property raises.

Names are imported on first use, so ``import ptediff.core.program`` (what the spec and the models
do) does not load the search or the reports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "parse": "ptediff.dsl.parse",
    "parse_file": "ptediff.dsl.parse",
    "format_program": "ptediff.dsl.printer",
    "Program": "ptediff.core.program",
    "Config": "ptediff.core.program",
    "Outcome": "ptediff.core.outcome",
    "programs": "ptediff.search.strategies",
    "differential_test": "ptediff.search.property",
    "DivergenceFound": "ptediff.search.property",
    "check": "ptediff.judge.check",
    "Judgement": "ptediff.judge.differ",
    "hunt": "ptediff.search.hunt",
    "HuntReport": "ptediff.search.findings",
    "explore": "ptediff.search.explore",
    "ExploreReport": "ptediff.search.explore_report",
    "Kernel": "ptediff.impls",
    "KernelBug": "ptediff.impls",
    "REGISTRY": "ptediff.impls",
    "PtediffError": "ptediff.core.errors",
    "DslError": "ptediff.core.errors",
    "DslSyntaxError": "ptediff.core.errors",
    "DslValidationError": "ptediff.core.errors",
    "BudgetExceeded": "ptediff.core.errors",
    "ImplLoadError": "ptediff.core.errors",
    "SpecError": "ptediff.core.errors",
}
_RENAMED: dict[str, tuple[str, str]] = {"load_impl": ("ptediff.impls", "load")}

__all__ = [
    "REGISTRY",
    "BudgetExceeded",
    "Config",
    "DivergenceFound",
    "DslError",
    "DslSyntaxError",
    "DslValidationError",
    "ExploreReport",
    "HuntReport",
    "ImplLoadError",
    "Judgement",
    "Kernel",
    "KernelBug",
    "Outcome",
    "Program",
    "PtediffError",
    "SpecError",
    "check",
    "differential_test",
    "explore",
    "format_program",
    "hunt",
    "load_impl",
    "parse",
    "parse_file",
    "programs",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    elif name in _RENAMED:
        module, attr = _RENAMED[name]
        value = getattr(import_module(module), attr)
    else:
        raise AttributeError(f"module 'ptediff' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from ptediff.core.errors import (
        BudgetExceeded,
        DslError,
        DslSyntaxError,
        DslValidationError,
        ImplLoadError,
        PtediffError,
        SpecError,
    )
    from ptediff.core.outcome import Outcome
    from ptediff.core.program import Config, Program
    from ptediff.dsl.parse import parse, parse_file
    from ptediff.dsl.printer import format_program
    from ptediff.impls import REGISTRY, Kernel, KernelBug
    from ptediff.impls import load as load_impl
    from ptediff.judge.check import check
    from ptediff.judge.differ import Judgement
    from ptediff.search.explore import explore
    from ptediff.search.explore_report import ExploreReport
    from ptediff.search.findings import HuntReport
    from ptediff.search.hunt import hunt
    from ptediff.search.property import DivergenceFound, differential_test
