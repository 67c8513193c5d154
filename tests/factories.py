"""Small builders of cache entries and export documents for the tests."""

from __future__ import annotations

from typing import Any

from gemmtune.cache import Entry, make_provenance
from gemmtune.kernels.params import KernelParams
from gemmtune.problem import Problem

OTHER_ID = "0123456789ab"  # a fingerprint id that is not this machine's


def make_entry(fingerprint_id: str, m: int = 256, n: int = 256, k: int = 256,
               dtype: str = "float32", threads: int = 1, gflops: float = 10.0,
               verified: bool = True, **params: Any) -> Entry:
    """A valid entry; ``params`` override KernelParams defaults (NR 8 for float64 by default)."""
    if dtype in ("float64", "f64"):
        params.setdefault("NR", 8)
        params.setdefault("NC", 4080)
    kp = KernelParams(**params).validate(dtype)
    return Entry(fingerprint_id, Problem(m, n, k, dtype, threads), kp.to_dict(),
                 {"gflops": gflops, "gflops_iqr": 0.5, "samples": 7, "numpy_gflops": 20.0},
                 make_provenance(sampler="tpe", trials=12, study="test"), verified)
