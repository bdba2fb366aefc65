"""`.pte` files on disk: expanding directories, reading, parsing, rewriting atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ptediff.cli.output import UsageError
from ptediff.core.program import Program


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for every `.pte` file under it, in sorted order."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        found = sorted(path.rglob("*.pte"))
        if not found:
            raise UsageError(f"{path}: a directory without .pte files")
        expanded.extend(found)
    return expanded


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a .pte file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (it is not valid UTF-8)") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror}") from None


def parse_source(text: str, path: Path) -> Program:
    from ptediff.dsl.parse import parse

    return parse(text, str(path))


def load_program(path: Path) -> Program:
    return parse_source(read_source(path), path)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` so that a reader sees the old file or the new one, never half."""
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
