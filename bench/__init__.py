"""ptediff benchmarks: `python -m bench` (see docs/benchmarks.md). `main(argv) -> int`."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from bench.cli import main as cli_main  # hypothesis and the models load only when run

    return cli_main(argv)


__all__ = ["main"]
