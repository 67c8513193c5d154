"""Idle OpenMP workers that spin on the cores gemmtune's threads need, and the setting that
stops it. Kept free of imports: ``import gemmtune`` applies it before numba can load libgomp.
"""

from __future__ import annotations

import os

# numba's OpenMP threading layer (libgomp) keeps its idle workers spinning after each
# parallel region for GOMP_SPINCOUNT iterations (300000 by default: milliseconds here). A
# band kernel ("m", "n": serial drivers on Python threads) started in that window, right
# after a prange kernel or conv's parallel im2col, shares a core with a spinner: 64 x 3136 x
# 576 with B in place on 2 threads, each call right after a prange kernel's, ran at 56-84% of
# numpy with the default and 85-92% with 10000 (docs/performance.md section 21). 10000 still
# spans the short gaps between the parallel regions of one prange kernel.
OMP_SPINCOUNT = "10000"
_omp_spin_source: str | None = None


def _libgomp_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return False


def quiet_omp_spin() -> str | None:
    """Set ``GOMP_SPINCOUNT`` for this process and its children when libgomp (which reads it
    once, when numba's OpenMP layer loads it) is not loaded yet and the user has set neither
    it nor ``OMP_WAIT_POLICY``. ``import gemmtune`` calls this. Returns "set by gemmtune",
    "set by the user", or None when libgomp was loaded before anything could be set."""
    global _omp_spin_source
    if _omp_spin_source is not None:
        return _omp_spin_source
    if os.environ.get("GOMP_SPINCOUNT") or os.environ.get("OMP_WAIT_POLICY"):
        _omp_spin_source = "set by the user"
    elif not _libgomp_loaded():
        os.environ["GOMP_SPINCOUNT"] = OMP_SPINCOUNT
        _omp_spin_source = "set by gemmtune"
    return _omp_spin_source


def omp_spin() -> dict[str, str | None]:
    """The OpenMP spin count in effect, and who set it (for reports)."""
    return {"value": os.environ.get("GOMP_SPINCOUNT"), "source": _omp_spin_source}
