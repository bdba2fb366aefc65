"""Save a minimal divergence as a `.pte` regression file: the durable record of a hunt.

The hypothesis example database is only a cache; a saved file is what a later `pytest` run
(through the `.pte` plugin) and a reviewer read. A file holds

* a leading comment naming the implementation, the signature class and the operation where
  it first shows;
* the `config` line (when not default) and `expect` lines: `postfix agrees` only when the
  post-fix model really agrees on this program, and `IMPL diverges CLASS`;
* the program itself, schedules included, in canonical form.

Files are named `<impl>-<class>-<hash8>.pte`, the hash taken over the class and the program's
canonical text: the same divergence class on the same program is saved once, whichever
implementation found it. Writing is atomic (a temporary file in the same directory, then a
link to the final name, which fails rather than replace an existing file), and an existing
file is never overwritten.

Across processes: the dedup check and the write happen under an exclusive `flock` on the
directory itself (no lock file is left in it), so two hunts saving into one directory never
both write the same finding. Temporary files are named `.ptediff-save-XXXX.tmp` (hidden, and
not `.pte`: neither `check`, `run` nor pytest collects them); one left by a killed save is
removed by the next save, under the lock (no save can be writing it then). Saved files get the
usual mode (0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from ptediff.core.errors import BudgetExceeded, ModelCrash, PtediffError
from ptediff.core.program import Expect, Program
from ptediff.dsl.parse import parse
from ptediff.dsl.printer import format_op, format_program
from ptediff.judge.check import check
from ptediff.judge.differ import Judgement

POSTFIX = "postfix"
TEMP_PREFIX = ".ptediff-save-"
TEMP_SUFFIX = ".tmp"
# Left by an earlier version, which named its temporaries `.tmp-XXXX.pte`.
OLD_TEMP_GLOB = ".tmp-*.pte"


class SaveError(PtediffError):
    """A regression file cannot be written where asked (not a directory, no permission...)."""


def save(
    program: Program,
    judgement: Judgement,
    impl_name: str,
    directory: str | Path,
    *,
    also: Sequence[str] = (),
    postfix_judgement: Judgement | None = None,
    check_invariants: bool | str = False,
) -> Path | None:
    """Write `program`'s divergence on `impl_name` to `directory`; the new file's path, or None
    when the same class on the same program is already saved there.

    `also`: other implementations that diverge with the same class on `program` (each gets its
    own `expect ... diverges` line). `postfix_judgement`: the post-fix model's judgement of
    `program` if already known (it is run otherwise, to decide whether `expect postfix agrees`
    is true).
    """
    if judgement.divergence is None:
        raise ValueError("save() needs a diverging judgement")
    cls = judgement.divergence.primary.cls
    bare = dataclasses.replace(program, comments=(), expects=())
    digest = content_hash(bare, cls)
    target_dir = _directory(directory)
    if _already_saved(target_dir, cls, digest):  # cheap early answer, re-checked under the lock
        return None
    diverging = [impl_name, *(name for name in also if name != impl_name)]
    if POSTFIX not in diverging and postfix_judgement is None:
        try:
            postfix_judgement = check(bare, POSTFIX, check_invariants=check_invariants)
        except (BudgetExceeded, ModelCrash):  # no verdict: no `expect postfix agrees` line
            postfix_judgement = None
    text = format_program(_annotated(bare, judgement, diverging, postfix_judgement), notes=False)
    if dataclasses.replace(parse(text), comments=(), expects=()) != bare:
        raise AssertionError("the saved text does not parse back to the same program")
    with _locked(target_dir):
        clean_leftovers(target_dir)
        if _already_saved(target_dir, cls, digest):
            return None
        return _write_new(target_dir / f"{_slug(impl_name)}-{_slug(cls)}-{digest}.pte", text)


def check_writable(directory: str | Path) -> Path:
    """Create `directory` if needed and prove a file can be written in it (SaveError if not):
    a hunt checks this before it starts, not at its first finding."""
    if str(directory) == "":
        raise SaveError("the save directory is an empty name: give a directory")
    target = _directory(directory)
    try:
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=target)
    except OSError as error:
        raise SaveError(f"cannot write in {str(target)!r}: {error.strerror}") from error
    os.close(fd)
    os.unlink(probe)
    return target


def clean_leftovers(directory: Path) -> list[Path]:
    """Remove the temporary files a killed save left behind; call with the lock held."""
    removed = []
    for pattern in (f"{TEMP_PREFIX}*{TEMP_SUFFIX}", OLD_TEMP_GLOB):
        for leftover in directory.glob(pattern):
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed.append(leftover)
    return removed


def _already_saved(directory: Path, cls: str, digest: str) -> bool:
    return any(directory.glob(f"*-{_slug(cls)}-{digest}.pte"))


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on the directory, for the dedup check and the write."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise SaveError(f"cannot write in {str(directory)!r}: {error.strerror}") from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def content_hash(program: Program, cls: str) -> str:
    """8 hex digits over the class and the program's canonical text (no comments or expects)."""
    bare = dataclasses.replace(program, comments=(), expects=())
    text = f"{cls}\n{format_program(bare, notes=False)}"
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _annotated(
    program: Program, judgement: Judgement, diverging: list[str], postfix: Judgement | None
) -> Program:
    assert judgement.divergence is not None
    primary = judgement.divergence.primary
    ops = program.ops()
    who = (
        diverging[0] if len(diverging) == 1 else ", ".join(diverging[:-1]) + " and " + diverging[-1]
    )
    verb = "diverges" if len(diverging) == 1 else "diverge"
    comments = [f"Found by ptediff hunt: {who} {verb} from the spec with {primary.cls}"]
    if primary.op is not None and 0 <= primary.op < len(ops):
        comments.append(f"first showing at op {primary.op}: {format_op(ops[primary.op])}")
    others = [sig.cls for sig in judgement.divergence.signatures[1:]]
    if others:
        comments.append("also: " + ", ".join(others))
    expects = []
    if POSTFIX not in diverging and postfix is not None and postfix.agrees:
        expects.append(Expect(POSTFIX, "agrees"))
    expects.extend(Expect(name, "diverges", (primary.cls,)) for name in diverging)
    return dataclasses.replace(program, comments=tuple(comments), expects=tuple(expects))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _directory(directory: str | Path) -> Path:
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SaveError(f"cannot create the save directory {str(path)!r}: {error}") from error
    if not path.is_dir():
        raise SaveError(f"the save path {str(path)!r} is not a directory")
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_new(path: Path, text: str) -> Path | None:
    """Write `text` to a new file `path` atomically; None if `path` already exists."""
    if path.exists():
        return None
    try:
        fd, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as error:
        raise SaveError(f"cannot write in {str(path.parent)!r}: {error}") from error
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # an atomic rename that refuses to replace a file
        except FileExistsError:
            return None
        except OSError:  # no hard links on this filesystem: rename, after a last check
            if path.exists():
                return None
            os.replace(temporary, path)
        return path
    except OSError as error:
        raise SaveError(f"cannot write {str(path)!r}: {error}") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
