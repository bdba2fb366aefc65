"""Registered kernel models and `load`, which also accepts `package.module:ClassName`."""

from __future__ import annotations

import importlib

from ptediff.core.errors import ImplLoadError
from ptediff.impls.base import Kernel
from ptediff.impls.variants import AnonVmaHead, CowForkWrite, PreFix, PteUnmapArg, SwaponRange

REGISTRY: dict[str, type[Kernel]] = {
    cls.NAME: cls for cls in (Kernel, PreFix, AnonVmaHead, PteUnmapArg, CowForkWrite, SwaponRange)
}


def load(name_or_path: str) -> type[Kernel]:
    """A registered model by name, or a Kernel subclass named as `package.module:ClassName`."""
    if name_or_path in REGISTRY:
        return REGISTRY[name_or_path]
    known = ", ".join(sorted(REGISTRY))
    if name_or_path.startswith("mutant:"):
        return _mutant(name_or_path)
    if ":" not in name_or_path:
        raise ImplLoadError(
            f"unknown implementation {name_or_path!r}: use one of {known}, "
            "or package.module:ClassName for a Kernel subclass"
        )
    module_name, _, class_name = name_or_path.partition(":")
    if not module_name or not class_name:
        raise ImplLoadError(
            f"bad implementation path {name_or_path!r}: expected package.module:ClassName"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's path, reported plainly
        raise ImplLoadError(
            f"cannot import module {module_name!r} for {name_or_path!r}: {exc}"
        ) from exc
    except SystemExit as exc:  # a module that exits on import must not end ptediff silently
        raise ImplLoadError(
            f"module {module_name!r} called sys.exit({exc.code!r}) while being imported"
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ImplLoadError(f"module {module_name!r} has no attribute {class_name!r}")
    if not isinstance(cls, type) or not issubclass(cls, Kernel):
        raise ImplLoadError(
            f"{name_or_path!r} is not a subclass of ptediff.Kernel (registered models: {known})"
        )
    return cls


def _mutant(name: str) -> type[Kernel]:
    """A catalogue mutant (ptediff.impls.mutants), imported only when one is asked for."""
    from ptediff.impls import mutants

    cls = mutants.MUTANTS.get(name)
    if cls is None:
        from ptediff.dsl.source import did_you_mean

        raise ImplLoadError(
            f"unknown mutant {name!r}{did_you_mean(name, list(mutants.MUTANTS))}: "
            "`ptediff impls --mutants` lists them"
        )
    return cls
