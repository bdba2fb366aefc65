"""The type checker and the linter run in the default suite, so that a type error or a lint
finding fails CI like a failing test (audit: mypy found the plugin's INTERNALERROR before
anyone had run it).

mypy checks the package as it is installed, `ptediff` with spec/, impls/ and grammar/ as its
subpackages: the repository keeps them as separate folders, so the test lays the installed tree
out with symlinks in a temporary directory and runs `mypy -p ptediff` there with the settings of
pyproject.toml ([tool.mypy]).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUBPACKAGES = {"spec": "spec", "impls": "impls", "grammar": "grammar"}


def package_tree(root: Path) -> Path:
    """`root/ptediff`: the framework's files, then spec/, impls/ and grammar/, by symlink."""
    package = root / "ptediff"
    package.mkdir()
    for entry in (REPO / "difftest").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in SUBPACKAGES.items():
        (package / name).symlink_to(REPO / folder)
    return root


def _tool(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI"):  # CI installs the test extra: a missing checker is a failure
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def test_mypy_finds_no_type_error(tmp_path: Path) -> None:
    _tool("mypy")
    root = package_tree(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
         "--cache-dir", str(tmp_path / ".mypy_cache"), "-p", "ptediff"],
        capture_output=True, text=True, cwd=root,
        env={**os.environ, "MYPYPATH": str(root)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


def test_ruff_finds_nothing() -> None:
    _tool("ruff")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stdout + done.stderr
