"""Kernel families and the registry that maps a problem to the family that computes it.

``family_for(problem)`` is how search, cache, export/import, bench and ``matmul`` reach
kernels. Families register lazily (their packages import numba), so importing this module
is cheap. To add a family: subclass ``KernelFamily`` (``base.py``) and add it to
``_BUILTIN`` (or call ``register`` from your own code, as the tests do with a toy family).
"""

from __future__ import annotations

import importlib
import threading
from contextlib import contextmanager
from typing import Iterator

from ..problem import Problem
from .base import KernelFamily, StartingPoint, Verdict, Workload

__all__ = ["KernelFamily", "StartingPoint", "Verdict", "Workload", "family_for", "get_family",
           "families", "register", "registered"]

# module:attribute of each built-in family, in order of preference.
_BUILTIN = ("gemmtune.families.float_gemm:FloatGemmFamily",
            "gemmtune.families.amx_int8:AmxInt8Family",
            "gemmtune.families.int8_gemm:Int8GemmFamily")

_lock = threading.RLock()
_families: list[KernelFamily] | None = None


def _loaded() -> list[KernelFamily]:
    global _families
    with _lock:
        if _families is None:
            found = []
            for spec in _BUILTIN:
                module, _, attr = spec.partition(":")
                try:
                    cls = getattr(importlib.import_module(module), attr)
                except ImportError:  # a family whose package is not installed here
                    continue
                found.append(cls())
            _families = found
        return _families


def families() -> list[KernelFamily]:
    """Every registered family, most preferred first."""
    return list(_loaded())


def register(family: KernelFamily, first: bool = True) -> None:
    """Add ``family``; ``first`` puts it ahead of the others for what it accepts."""
    with _lock:
        current = [f for f in _loaded() if f.name != family.name]
        _families[:] = [family, *current] if first else [*current, family]  # type: ignore[index]


def unregister(name: str) -> None:
    with _lock:
        _families[:] = [f for f in _loaded() if f.name != name]  # type: ignore[index]


@contextmanager
def registered(family: KernelFamily) -> Iterator[KernelFamily]:
    """``family`` registered first for the duration of a ``with`` block (tests)."""
    with _lock:
        before = list(_loaded())
    register(family)
    try:
        yield family
    finally:
        with _lock:
            _families[:] = before  # type: ignore[index]


def generator_hash() -> str:
    """One hash over every built-in family's generator: part of the hardware fingerprint, so
    a tuning never outlives the code it was measured on, whichever family made it."""
    import hashlib

    h = hashlib.sha256()
    # The built-in families only: one registered at run time (the tests' toy) must not
    # change this machine's identity.
    for f in _loaded():
        if f"{type(f).__module__}:{type(f).__name__}" in _BUILTIN:
            h.update(f"{f.name}={f.generator_hash()};".encode())
    return h.hexdigest()[:12]


def family_for(problem: Problem) -> KernelFamily:
    """The family that computes ``problem``; ValueError with one sentence if none does."""
    for f in _loaded():
        if f.accepts(problem):
            return f
    raise ValueError(f"no kernel family computes {problem.op} on {problem.dtype} here.")


def get_family(name: str) -> KernelFamily:
    """The registered family called ``name``; ValueError if there is none."""
    for f in _loaded():
        if f.name == name:
            return f
    raise ValueError(f"unknown kernel family {name!r}: expected one of "
                     f"{', '.join(f.name for f in _loaded())}.")
