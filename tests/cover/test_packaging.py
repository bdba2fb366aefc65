"""Packaging: a wheel and an sdist of the checkout install `ptediff` as the only import name."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _tracked_copy(target: Path) -> Path:
    """A copy of the files git tracks (or, outside git, of the package folders)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    source = _tracked_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    for kind in ("--wheel", "--sdist"):
        done = subprocess.run(
            [sys.executable, "-m", "build", kind, "--outdir", str(out), str(source)],
            capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def test_wheel_has_one_top_level_package(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ptediff"}
    for module in ("ptediff/__init__.py", "ptediff/spec/__init__.py",
                   "ptediff/impls/__init__.py", "ptediff/grammar/pte.lark"):
        assert module in names, module
    assert not any(name.startswith("ptediff/bench") for name in names)


def test_sdist_carries_the_folders(built: tuple[Path, Path]) -> None:
    _, sdist = built
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    root = members[0].split("/")[0]
    for folder in ("difftest", "spec", "impls", "grammar"):
        assert any(m.startswith(f"{root}/{folder}/") for m in members), folder
