"""Kernel BUGs hit by a model: an outcome of the run, not a failure of ptediff."""

from __future__ import annotations


class KernelBug(Exception):
    """A BUG_ON that fired in `function`: the running operation is killed (result "BUG")."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"kernel BUG in {function}: {reason}")
        self.function = function
        self.reason = reason
