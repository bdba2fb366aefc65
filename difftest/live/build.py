"""Build the C helper at first use with the system compiler, cached per user.

The cache key is a hash of the source and the compiler command, so an edited helper is rebuilt
and concurrent builders never see a half-written binary (build to a temporary name, then
rename).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from ptediff.core.errors import PtediffError

FLAGS = ("-O2", "-Wall", "-pthread")


class LiveUnavailable(PtediffError):
    """The live backend cannot run here (not Linux, not root, no compiler, ...)."""


def cache_dir() -> Path:
    """The per-user cache directory ($XDG_CACHE_HOME/ptediff, else ~/.cache/ptediff)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ptediff"


def helper_source() -> bytes:
    return resources.files("ptediff.live").joinpath("helper.c").read_bytes()


def compiler() -> str:
    found = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not found:
        raise LiveUnavailable("the live backend needs a C compiler (gcc or cc) to build its helper")
    return found


def helper_path() -> Path:
    """The built helper, compiling it if this source has not been built yet."""
    source = helper_source()
    cc = compiler()
    digest = hashlib.sha256(source + cc.encode() + " ".join(FLAGS).encode()).hexdigest()[:16]
    target = cache_dir() / f"live-helper-{digest}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ptediff-build-") as work:
        src = Path(work) / "helper.c"
        src.write_bytes(source)
        out = Path(work) / "helper"
        built = subprocess.run([cc, *FLAGS, "-o", str(out), str(src)], capture_output=True,
                               text=True, check=False)
        if built.returncode != 0:
            raise LiveUnavailable(f"building the live helper failed:\n{built.stderr.strip()}")
        partial = target.with_name(target.name + f".{os.getpid()}")
        shutil.copy2(out, partial)
        os.replace(partial, target)
    # builds of older sources are never used again (a running one keeps its inode)
    for old in target.parent.glob("live-helper-*"):
        if old != target and "." not in old.name:
            old.unlink(missing_ok=True)
    return target
