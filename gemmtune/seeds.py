"""Seed configurations per ISA family, from ``configs/seeds/<family>.json``.

Like BLIS's per-architecture ``config/`` folders: each family names the family it falls
back to (avx512 -> avx2 -> generic, neon -> generic), so a machine with no seed of its own
still gets a sensible, valid kernel before anything is tuned.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from .kernels.params import KernelParams, normalize_dtype

FAMILIES = ("avx512", "avx2", "neon", "generic")


@lru_cache(maxsize=None)
def load_family(family: str) -> dict[str, Any]:
    """The parsed seed file of ``family`` (ValueError if there is none)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown ISA family {family!r}: expected one of {', '.join(FAMILIES)}.")
    text = resources.files("gemmtune.configs").joinpath("seeds", f"{family}.json").read_text()
    return json.loads(text)


def fallback_chain(family: str) -> list[str]:
    """``family`` followed by the families it falls back to, e.g. avx512, avx2, generic."""
    chain = []
    current: str | None = family
    while current is not None and current not in chain:
        chain.append(current)
        current = load_family(current).get("fallback")
    return chain


def seed_params(dtype: str, family: str | None = None) -> KernelParams:
    """The seed KernelParams for ``dtype`` on ``family`` (default: this machine's family).

    Walks the fallback chain until a family has a valid seed for the dtype.
    """
    dtype = normalize_dtype(dtype)
    if family is None:
        from .fingerprint import isa_family

        family = isa_family()
    for fam in fallback_chain(family):
        data = load_family(fam).get(dtype)
        if data is None:
            continue
        params = KernelParams.from_dict(data)
        if not params.problems(dtype):
            return params
    return KernelParams.from_dict(load_family("generic")[dtype]).validate(dtype)
