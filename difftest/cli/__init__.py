"""The `ptediff` command line."""

from ptediff.cli.main import main

__all__ = ["main"]
