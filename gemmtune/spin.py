"""Idle threads that spin on the cores gemmtune's threads need, numba's OpenMP workers and
OpenBLAS's, and the settings that stop them. Kept free of imports: ``import gemmtune``
applies them before numba can load libgomp (and, when it can, before numpy loads OpenBLAS).
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


def _mapped_files() -> list[str]:
    """Paths of the files mapped into this process (Linux; [] where /proc is missing)."""
    try:
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    fields = (line.split(None, 5) for line in lines)
    return sorted({f[5] for f in fields if len(f) == 6})


def _libgomp_loaded() -> bool:
    return any("libgomp" in path for path in _mapped_files())


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


# OpenBLAS's idle threads spin for 2**THREAD_TIMEOUT cycles (default 28: about 0.1 s) after
# each call, on the cores gemmtune's threads then need: a 2-thread kernel right after a
# numpy call ran at half its speed or less (docs/performance.md section 17). 4, the smallest
# value OpenBLAS accepts, makes them sleep at once; numpy's own speed did not change.
BLAS_THREAD_TIMEOUT = "4"
_blas_timeout_source: str | None = None


def quiet_blas_spin() -> str | None:
    """Make OpenBLAS's idle threads sleep right after each call, unless the user has set
    ``OPENBLAS_THREAD_TIMEOUT``. ``import gemmtune`` calls this (so the command line has, before
    any command loads numpy).

    Before numpy loads, setting the variable is enough (OpenBLAS reads it once, at load).
    After (``import numpy`` then ``import gemmtune``, the usual order in a program), the
    variable is set and every loaded OpenBLAS re-reads it and stops its threads, which it
    starts again at its next call (:func:`_restart_loaded_openblas`). Returns how it stands:
    "set by gemmtune", "set by gemmtune (OpenBLAS restarted)", "set by the user", or None
    when an OpenBLAS was loaded and could not be restarted (nothing is changed then).
    """
    global _blas_timeout_source
    import sys

    if _blas_timeout_source is not None:
        return _blas_timeout_source
    if os.environ.get("OPENBLAS_THREAD_TIMEOUT"):
        _blas_timeout_source = "set by the user"
    elif "numpy" not in sys.modules:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT
        _blas_timeout_source = "set by gemmtune"
    elif _restart_loaded_openblas():
        _blas_timeout_source = "set by gemmtune (OpenBLAS restarted)"
    return _blas_timeout_source


def _openblas_paths() -> list[str]:
    """The OpenBLAS shared libraries mapped into this process."""
    return [p for p in _mapped_files()
            if p.startswith("/") and "openblas" in os.path.basename(p).lower()
            and ".so" in os.path.basename(p)]


def _restart_loaded_openblas() -> bool:
    """Have every loaded OpenBLAS take ``BLAS_THREAD_TIMEOUT``; True when at least one did.

    OpenBLAS exports what it runs around a fork: ``openblas_read_env`` (re-reads its
    environment variables) and ``blas_thread_shutdown_`` (stops its threads; the next call
    starts them again with the timeout read). A 2-thread kernel called right after numpy's
    2-thread product ran at 47-48 GFLOP/s without this and at 111 with it (512^3 float32,
    Zen 3; docs/performance.md section 22). Called at import, before any gemmtune thread
    runs; a library without both symbols is left alone, and so is the variable.
    """
    import ctypes

    libs = []
    for path in _openblas_paths():
        try:
            lib = ctypes.CDLL(path)
            libs.append((lib.openblas_read_env, lib.blas_thread_shutdown_))
        except (OSError, AttributeError):
            continue
    if not libs:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = BLAS_THREAD_TIMEOUT
    for read_env, shutdown in libs:
        read_env()
        shutdown()
    return True


def blas_thread_timeout() -> dict[str, str | None]:
    """The OpenBLAS thread timeout in effect, and who set it (for reports)."""
    return {"value": os.environ.get("OPENBLAS_THREAD_TIMEOUT"), "source": _blas_timeout_source}
