"""The documented public surface (docs/api.md), used the way a user's own test would use it.

Everything here is imported from `ptediff` alone: no internal module paths.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ptediff
import pytest
from hypothesis import given, settings
from ptediff import (
    REGISTRY,
    Config,
    DslError,
    DslSyntaxError,
    DslValidationError,
    ImplLoadError,
    Kernel,
    Program,
    PtediffError,
    check,
    differential_test,
    explore,
    format_program,
    hunt,
    load_impl,
    parse,
    parse_file,
    programs,
)

REPO = Path(__file__).resolve().parents[2]

SWAPON = "swapon 1\nswapon 1\nswapon 1\n"


class NoSwapLimit(Kernel):
    """A plug-in model with fix 4 reverted through the public surface: any type is accepted."""

    NAME = "user-no-swap-limit"
    REVERTS = "the MAX_SWAPFILES bound of sys_swapon"

    def swap_type_out_of_range(self, type_: int) -> bool:
        return False


def test_every_public_name_resolves() -> None:
    for name in ptediff.__all__:
        assert getattr(ptediff, name) is not None, name
    with pytest.raises(AttributeError):
        _ = ptediff.no_such_name


def test_errors_form_one_hierarchy() -> None:
    for error in (DslError, DslSyntaxError, DslValidationError, ImplLoadError):
        assert issubclass(error, PtediffError)
    with pytest.raises(DslSyntaxError) as info:
        parse("map p0 0x1000\n", "mine.pte")
    assert str(info.value).startswith("mine.pte:1:")


def test_parse_print_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "prog.pte"
    path.write_text("map p0 0x1000 1 rw\nfault p0 0x1000 write 0x7\n")
    program = parse_file(path)
    assert isinstance(program, Program)
    assert parse(format_program(program)) == program


@settings(max_examples=15)
@given(programs(ops=("map", "fault", "mprotect", "munmap")))
def test_users_own_property_over_programs(program: Program) -> None:
    judgement = check(program, "postfix")
    assert judgement.agrees, judgement.divergence


def test_plugin_model_is_caught_by_check() -> None:
    program = parse("config swap_bits=2\n" + SWAPON)
    assert check(program, "postfix").agrees
    divergence = check(program, NoSwapLimit).divergence
    assert divergence is not None
    assert divergence.primary.cls == "kernel-bug:sys_swapon"


def test_differential_test_wraps_the_property() -> None:
    swapons = programs(ops=("swapon",), config=Config(swap_bits=2))
    test = differential_test(["prefix-swapon-range"], swapons)
    with pytest.raises(ptediff.DivergenceFound) as info:
        settings(max_examples=300, database=None)(test)()
    assert info.value.impl == "prefix-swapon-range"


def test_load_impl_and_registry() -> None:
    assert load_impl("postfix") is REGISTRY["postfix"]
    with pytest.raises(ImplLoadError):
        load_impl("no-such-model")


def test_explore_and_hunt_are_callable_from_the_surface() -> None:
    program = parse(
        "map p0 0x1000 1 rw\nfault p0 0x1000 write 0x1\n"
        "parallel {\n  thread { migrate p0 0x1000 1 unlocked }\n  thread { fork p0 p1 }\n}\n"
    )
    report = explore(program, ["postfix"], preemption_bound=1)
    postfix = report.impls[0]
    assert postfix.schedules > 1 and postfix.agreeing == postfix.schedules
    swapons = programs(ops=("swapon",), config=Config(swap_bits=2))
    found = hunt(impls=["prefix-swapon-range"], max_examples=200, seed=1, strategy=swapons)
    assert [(f.impl, f.signature) for f in found.findings] == [
        ("prefix-swapon-range", "kernel-bug:sys_swapon")
    ]


def test_importing_the_models_does_not_load_the_search() -> None:
    code = (
        "import sys, ptediff.impls, ptediff.spec;"
        "print(any(m.startswith(('ptediff.search', 'ptediff.report', 'ptediff.cli'))"
        " for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
