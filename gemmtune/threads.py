"""How many threads ``gemmtune.matmul`` runs on when the caller does not say.

The default follows the settings that limit numpy's own BLAS, so that a program which pins
numpy (``threadpoolctl.threadpool_limits(1)``, ``OMP_NUM_THREADS=1``) pins gemmtune too, and
never asks numba for more threads than it has (``NUMBA_NUM_THREADS``):

    threads = min(usable cores, NUMBA_NUM_THREADS, the BLAS's current thread count)

An explicit ``threads=`` argument always wins over all of these (it must still be at most
``NUMBA_NUM_THREADS``). The BLAS's thread count is read from the BLAS itself
(``openblas_get_num_threads``, ``mkl_get_max_threads``, ...) through threadpoolctl, so it
already includes ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` as the BLAS read them at load,
and any ``threadpool_limits`` in force. The libraries are found once per process (a scan of
the loaded libraries, about a millisecond); each call after that costs one call into the
BLAS (microseconds).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from .fingerprint import usable_cores

_lock = threading.Lock()
_blas_getters: list[Callable[[], int | None]] | None = None


def _find_blas() -> list[Callable[[], int | None]]:
    """The ``get_num_threads`` of every BLAS loaded in this process (numpy's among them)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    try:
        found = ThreadpoolController().select(user_api="blas").lib_controllers
    except Exception:  # an unusual BLAS must never cost the product
        return []
    return [_direct_getter(c) or c.get_num_threads for c in found]


def _direct_getter(controller: Any) -> Callable[[], int | None] | None:
    """OpenBLAS's own thread-count function, the one threadpoolctl's getter calls.

    threadpoolctl looks the symbol up at every call, and every ``gemmtune.matmul`` without
    ``threads`` asks (at 8^3 on a virtual Zen 3 such a call went from 5.3 to 4.5-4.8 us,
    ``benchmarks/call_overhead.py --layers``); the function it finds is kept here instead. None
    when this threadpoolctl or this BLAS does not have it (its getter is used then)."""
    if getattr(controller, "internal_api", None) != "openblas":
        return None
    try:
        symbol = ("omp_get_max_threads" if controller.threading_layer == "openmp"
                  else "openblas_get_num_threads")
        fn = controller._get_symbol(symbol)  # threadpoolctl 3.x's own lookup
        if fn is None or fn() != controller.get_num_threads():
            return None
        return fn
    except Exception:
        return None


def _env_threads() -> int | None:
    """OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, for a process whose BLAS cannot be asked."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _getters() -> list[Callable[[], int | None]]:
    global _blas_getters
    with _lock:
        if _blas_getters is None:
            import sys

            found = _find_blas()
            if "numpy" not in sys.modules:
                return found  # numpy's BLAS is not loaded yet: look again next time
            _blas_getters = found
        return _blas_getters


def blas_threads() -> int | None:
    """The thread count numpy's BLAS would use now (the smallest over loaded BLAS libraries),
    or None when no BLAS can be asked and no environment variable says."""
    getters = _blas_getters if _blas_getters is not None else _getters()
    n = None
    for get in getters:
        try:
            v = get()
        except Exception:  # a BLAS that cannot answer says nothing
            continue
        if isinstance(v, int) and v > 0 and (n is None or v < n):
            n = v
    return n if n is not None else _env_threads()


_numba_max: int | None = None


def numba_threads() -> int:
    """The most threads numba can run (``NUMBA_NUM_THREADS``, default the machine's cores);
    numba reads it once, at import, so it is read once here too."""
    global _numba_max
    if _numba_max is None:
        import sys

        if "numba" not in sys.modules:
            # Not imported yet (the command line before it needs numba): what numba will read.
            value = os.environ.get("NUMBA_NUM_THREADS", "").strip()
            if value.isdigit() and int(value) > 0:
                return int(value)
            return usable_cores()
        import numba

        _numba_max = int(numba.config.NUMBA_NUM_THREADS)
    return _numba_max


# The affinity mask is read at most this often (seconds): the system call costs 1-1.5 us on a
# virtual machine, a sixth of a 64^3 product's call. The BLAS's count is asked every call,
# so a ``threadpool_limits`` block pins the very next call.
CORES_INTERVAL = 0.1
_cores: tuple[float, int] = (float("-inf"), 1)


def _usable_cores() -> int:
    global _cores
    now = time.monotonic()
    if now - _cores[0] >= CORES_INTERVAL:
        _cores = (now, usable_cores())
    return _cores[1]


def default_threads() -> int:
    """``min(usable cores, NUMBA_NUM_THREADS, the BLAS's thread count)``, at least 1."""
    n = min(_usable_cores(), numba_threads())
    blas = blas_threads()
    if blas is not None and blas < n:
        n = blas
    return max(1, n)
