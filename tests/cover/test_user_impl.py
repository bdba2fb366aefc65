"""A user's own model, loaded as `package.module:Class`, is judged like a registered one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_MODEL = '''
from ptediff.impls import Kernel


class EagerMprotect(Kernel):
    """mprotect_fixup() without its early return: ptes are rewritten even when nothing changes."""

    def mprotect_fixup(self, vma, start, end, newflags):
        if newflags != vma.flags:
            return (yield from super().mprotect_fixup(vma, start, end, newflags))
        yield from self.change_protection(vma, start, end, vma.page_prot)
        return vma
'''

PROGRAM = """\
expect mymodels:EagerMprotect diverges pte-writable
map      p0 0x1000 1 rw
fault    p0 0x1000 write 0x7
mprotect p0 0x1000 1 rw
"""


def test_a_user_subclass_is_loaded_by_path_and_its_divergence_named(tmp_path: Path) -> None:
    (tmp_path / "mymodels.py").write_text(USER_MODEL)
    (tmp_path / "same.pte").write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, "-m", "ptediff", "run", "same.pte", "--impl", "mymodels:EagerMprotect"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "diverges: pte-writable" in done.stdout
    assert "L4 mprotect p0 0x1000 1 rw" in done.stdout
