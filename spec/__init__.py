"""The executable spec: what every operation may do, stated atomically and abstractly.

`run(program)` gives every outcome the spec allows (see docs/semantics.md for the rules and
the allowances). No kernel machinery: no locks, no encodings, no reverse maps.
"""

from ptediff.spec.allowances import ALLOWANCE_NAMES, ALLOWANCES, Allowance
from ptediff.spec.linearize import run

__all__ = ["ALLOWANCES", "ALLOWANCE_NAMES", "Allowance", "run"]
