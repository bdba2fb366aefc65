"""Executable step-by-step models of the Linux MM code around 0697212a ("Swapless page
migration: add R/W migration entries"): the post-fix `Kernel` and one variant per reverted fix.
"""

from impls.base import Kernel
from impls.bugs import KernelBug
from impls.registry import REGISTRY, load
from impls.runner import run

__all__ = ["REGISTRY", "Kernel", "KernelBug", "load", "run"]
