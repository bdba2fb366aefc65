"""Which implementations a command runs: the `--impl` names, else the file's or all."""

from __future__ import annotations

from collections.abc import Sequence

from ptediff.core.program import Program


def resolve_impls(names: Sequence[str] | None) -> list[str]:
    """The `--impl` names, each checked to load (ImplLoadError otherwise); [] when none given."""
    from ptediff import impls
    from ptediff.cli.live import check_live_available, is_live

    for name in names or ():
        if is_live(name):
            check_live_available()  # LiveUnavailable: not Linux, not root, no compiler...
        else:
            impls.load(name)
    return list(dict.fromkeys(names or ()))


def default_impls(program: Program) -> list[str]:
    """Without `--impl`: the implementations the file's `expect` lines name, else all."""
    from ptediff import impls

    named = list(dict.fromkeys(expect.impl for expect in program.expects))
    return named or list(impls.REGISTRY)
