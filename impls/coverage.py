"""Which modelled kernel functions a run reached: a cheap call counter for campaign reports.

A *modelled kernel function* is a `Kernel` method whose docstring cites a kernel source file
(`mm/memory.c`, `include/linux/swapops.h`, ...): the project's rule that every modelled
function says where it comes from makes that list exact. `counted(cls)` is a subclass of a
model in which each of those methods first bumps a module-level counter and then runs the
model's own method unchanged (a generator method returns its generator, so `yield from` and the
scheduler see no difference). Behaviour is untouched; only the counter moves.

Counting is per program: `begin()` clears the counter, the caller runs the program on every
implementation, and `end()` returns the functions reached with their call counts. One Python
call per kernel-function call is the whole cost (measured in README, "Campaigns").
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

KERNEL_FILE = re.compile(r"\b(?:mm|kernel|include|arch|fs|lib)/[\w/.-]+\.[ch]\b")

_calls: dict[str, int] = {}  # calls since the last begin()


def kernel_functions(cls: type) -> dict[str, str]:
    """Modelled kernel functions of `cls`: method name -> the kernel file its docstring cites
    (the first one, when it cites several)."""
    found: dict[str, str] = {}
    for name in sorted(dir(cls)):
        if name.startswith("__"):
            continue
        attr = _plain_function(cls, name)
        if attr is None:
            continue
        cited = _cited_file(attr)
        if cited is None:  # an override may leave the citation to the method it overrides
            cited = next(
                (c for base in cls.__mro__[1:] if (c := _cited_in(base, name)) is not None), None
            )
        if cited is not None:
            found[name] = cited
    return found


def _plain_function(cls: type, name: str) -> Any:
    attr = inspect.getattr_static(cls, name, None)
    return attr if inspect.isfunction(attr) else None


def _cited_in(cls: type, name: str) -> str | None:
    attr = cls.__dict__.get(name)
    return _cited_file(attr) if inspect.isfunction(attr) else None


def _cited_file(function: Any) -> str | None:
    match = KERNEL_FILE.search(function.__doc__ or "")
    return match.group(0) if match else None


@functools.cache
def counted(cls: type) -> type:
    """`cls` with every modelled kernel function counting its calls (cached per class)."""
    wrappers = {name: _counting(name, getattr(cls, name)) for name in kernel_functions(cls)}
    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__, **wrappers}
    return type(cls.__name__, (cls,), namespace)


def _counting(name: str, method: Any) -> Any:
    """A wrapper with the method's own parameters: no *args/**kwargs packing on the hot path
    (the counted hunt's overhead is the price of one extra call per kernel-function call)."""
    signature = inspect.signature(method)
    params, passed = [], []
    defaults: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            return _generic_counting(name, method)
        text = parameter.name
        if parameter.default is not parameter.empty:
            defaults[f"_default_{parameter.name}"] = parameter.default
            text += f"=_default_{parameter.name}"
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in params:
            params.append("*")
        params.append(text)
        passed.append(parameter.name if parameter.kind is not parameter.KEYWORD_ONLY
                      else f"{parameter.name}={parameter.name}")
    source = (f"def wrapper({', '.join(params)}):\n"
              f"    calls[name] = calls.get(name, 0) + 1\n"
              f"    return method({', '.join(passed)})\n")
    namespace: dict[str, Any] = {"calls": _calls, "name": name, "method": method, **defaults}
    exec(source, namespace)
    return functools.wraps(method)(namespace["wrapper"])


def _generic_counting(name: str, method: Any) -> Any:
    calls = _calls

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        return method(self, *args, **kwargs)

    return wrapper


def begin() -> None:
    """Start counting one program's runs."""
    _calls.clear()


def end() -> dict[str, int]:
    """The kernel functions reached since `begin()`, with their call counts."""
    reached = dict(_calls)
    _calls.clear()
    return reached
