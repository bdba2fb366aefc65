"""The executable spec: what every operation may do, stated atomically and abstractly.

`run(program)` gives every outcome the spec allows (see docs/semantics.md for the rules and
the allowances). No kernel machinery: no locks, no encodings, no reverse maps. The search is
bounded: past `MAX_STATES` states (or `run(..., max_states=N)`) it raises
`ptediff.core.errors.BudgetExceeded`.
"""

from ptediff.spec.allowances import ALLOWANCE_NAMES, ALLOWANCES, Allowance
from ptediff.spec.linearize import MAX_STATES, run

__all__ = ["ALLOWANCES", "ALLOWANCE_NAMES", "MAX_STATES", "Allowance", "run"]
