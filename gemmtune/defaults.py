"""ISA default configurations: what runs before anything is tuned (``configs/defaults/``).

Like BLIS's per-architecture ``config/`` folders: each ISA family names the family it falls
back to (avx512 -> avx2 -> generic, neon -> generic), so a machine with no file of its own
still gets a sensible, valid kernel. These are also among a search's starting points
(``gemmtune/search/starts.py``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from .kernels.params import KernelParams, normalize_dtype

ISA_FAMILIES = ("avx512", "avx2", "neon", "generic")


@lru_cache(maxsize=None)
def load_isa(isa: str) -> dict[str, Any]:
    """The parsed defaults file of ISA family ``isa`` (ValueError if there is none)."""
    if isa not in ISA_FAMILIES:
        raise ValueError(f"unknown ISA family {isa!r}: expected one of {', '.join(ISA_FAMILIES)}.")
    text = resources.files("gemmtune.configs").joinpath("defaults", f"{isa}.json").read_text()
    return json.loads(text)


def fallback_chain(isa: str) -> list[str]:
    """``isa`` followed by the families it falls back to, e.g. avx512, avx2, generic."""
    chain = []
    current: str | None = isa
    while current is not None and current not in chain:
        chain.append(current)
        current = load_isa(current).get("fallback")
    return chain


def default_params(dtype: str, isa: str | None = None) -> KernelParams:
    """The default float GEMM KernelParams for ``dtype`` on ``isa`` (default: this machine's).

    Walks the fallback chain until a family has a valid configuration for the dtype.
    """
    dtype = normalize_dtype(dtype)
    if isa is None:
        from .fingerprint import isa_family

        isa = isa_family()
    for fam in fallback_chain(isa):
        data = load_isa(fam).get(dtype)
        if data is None:
            continue
        params = KernelParams.from_dict(data)
        if not params.problems(dtype):
            return params
    return KernelParams.from_dict(load_isa("generic")[dtype]).validate(dtype)
