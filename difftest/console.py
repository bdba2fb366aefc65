"""The `ptediff` console script: the command, with Ctrl-C during start-up a quiet exit 130.

The command's modules take a moment to import; a KeyboardInterrupt raised while they load would
otherwise print a traceback from the import machinery. This module imports nothing of ptediff
until it is called, so the window left is the interpreter's own start.
"""

from __future__ import annotations

import sys

EXIT_SIGINT = 130


def main() -> int:
    try:
        from ptediff.cli.main import main as command
    except KeyboardInterrupt:
        sys.stderr.write("ptediff: interrupted\n")
        return EXIT_SIGINT
    return command()


if __name__ == "__main__":  # pragma: no cover - `python -m ptediff` goes through __main__
    sys.exit(main())
