"""`.pte` files on disk: expanding directories, reading, parsing, rewriting atomically."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ptediff.cli.output import UsageError
from ptediff.core.program import Program


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory stands for every `.pte` file under it, in sorted order,
    hidden files and directories left out (editors' and savers' temporaries)."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        found = sorted(
            found
            for found in path.rglob("*.pte")
            if not any(part.startswith(".") for part in found.relative_to(path).parts)
        )
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
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{path}: not a text file (it is not valid UTF-8: byte {error.start})"
        ) from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read it: {error.strerror}") from None


def parse_source(text: str, path: Path) -> Program:
    from ptediff.dsl.parse import parse

    return parse(text, str(path))


def load_program(path: Path) -> Program:
    return parse_source(read_source(path), path)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file `path` names by `text`, so that a reader sees the old file or the new
    one, never half. A symlink is followed (its target is rewritten, the link stays); anything
    but a regular file is refused; a failure is a UsageError naming the file."""
    try:
        info = path.stat()  # through any symlink
    except OSError as error:
        raise UsageError(f"{path}: cannot rewrite it: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path}: not a regular file: fmt rewrites files only (try fmt --check)")
    target = path.resolve() if path.is_symlink() else path
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    except OSError as error:
        raise UsageError(
            f"{path}: cannot rewrite it: {error.strerror} in {str(target.parent)!r}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot rewrite it: {error.strerror}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
