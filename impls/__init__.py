"""Executable step-by-step models of the Linux MM code around 0697212a ("Swapless page
migration: add R/W migration entries"): the post-fix `Kernel` and one variant per reverted fix.
"""

from ptediff.impls.base import Kernel
from ptediff.impls.bugs import KernelBug
from ptediff.impls.registry import REGISTRY, load
from ptediff.impls.runner import run

__all__ = ["REGISTRY", "Kernel", "KernelBug", "load", "run"]
