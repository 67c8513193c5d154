"""Shared by the AMX tests: the skip marker, compiled kernels, the exact reference.

Every compiled parameter set costs a numba compile of a few seconds, so the suite uses a
handful of sets with tiny, mutually indivisible blocks (every shape above ~100 crosses
several jc, pc and ic blocks) and keeps their code in the session's kernel directory.
"""

from __future__ import annotations

import numpy as np
import pytest

from gemmtune.amx import AmxParams, amx_available
from gemmtune.amx.verify import SENTINEL, exact_product, random_operands  # noqa: F401 (re-exported)

AMX_OK, AMX_WHY = amx_available()
needs_amx = pytest.mark.skipif(not AMX_OK, reason=f"AMX cannot run here: {AMX_WHY}")

# One fringe set per pair (the hypothesis test runs all four pairs), then variants of u8s8.
FRINGE = AmxParams(TM=1, TN=2, MC=48, KC=128, NC=96, unroll=2, parallel="n")
VARIANTS = [
    AmxParams(TM=2, TN=2, MC=96, KC=64, NC=64, unroll=4, parallel="m"),
    AmxParams(TM=3, TN=1, MC=144, KC=192, NC=80, unroll=1, parallel="m"),
]


@pytest.fixture(scope="session")
def amx_kernel(compiled_root):
    """(params, pair) -> compiled raw AMX core, compiled on first use."""
    from gemmtune.amx import compile_amx

    made: dict = {}

    def get(params: AmxParams, pair: str):
        key = (params, pair)
        if key not in made:
            made[key] = compile_amx(params, pair, compiled_root)
        return made[key]

    return get


def operands(rng: np.random.Generator, pair: str, m: int, n: int, k: int):
    """Random A (m, k) and B (k, n) of the pair's dtypes over their full ranges."""
    return random_operands(rng, pair, m, n, k)


def reference(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B exactly (int64)."""
    return exact_product(A, B)
